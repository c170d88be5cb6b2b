//! Reading dataset items from JSONL and CSV files. Every line is checked before anything is
//! stored: the first bad line fails the whole import with its line number.

use super::DatasetError;
use gantry_types::{ChatMessage, DatasetItem, ItemInput, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// How the columns of a flat record (a CSV row, or a JSONL object that is not already
/// `{"input", "expected", "metadata"}`) become an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Columns that become the input's variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_columns: Vec<String>,
    /// A column holding the conversation: a JSON array of messages, or text taken as one
    /// user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_column: Option<String>,
    /// The column holding the expected output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_column: Option<String>,
    /// Columns copied into the metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_columns: Vec<String>,
}

impl ColumnMapping {
    /// True when no column is named: JSONL lines are then read as items as they are.
    pub fn is_empty(&self) -> bool {
        *self == ColumnMapping::default()
    }

    fn check(&self) -> Result<(), DatasetError> {
        if !self.input_columns.is_empty() && self.messages_column.is_some() {
            return Err(DatasetError::InvalidMapping(
                "name either input columns (variables) or a messages column, not both".into(),
            ));
        }
        let mut named: Vec<&String> = self.input_columns.iter().chain(&self.metadata_columns).collect();
        named.extend(self.messages_column.iter().chain(&self.expected_column));
        let mut seen = std::collections::HashSet::new();
        for column in named {
            if column.is_empty() {
                return Err(DatasetError::InvalidMapping("a column name is empty".into()));
            }
            if !seen.insert(column) {
                return Err(DatasetError::InvalidMapping(format!("column '{column}' is named twice in the mapping")));
            }
        }
        Ok(())
    }
}

/// The file formats items are imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Jsonl,
    Csv,
}

impl FileFormat {
    /// The format a file name's extension says (`.jsonl`, `.ndjson`, `.csv`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(FileFormat::Jsonl),
            "csv" => Some(FileFormat::Csv),
            _ => None,
        }
    }
}

/// Every item of a file, or the first line that cannot be read.
pub fn parse_items(
    bytes: &[u8],
    format: FileFormat,
    mapping: &ColumnMapping,
) -> Result<Vec<DatasetItem>, DatasetError> {
    mapping.check()?;
    let text = utf8(bytes)?;
    let items = match format {
        FileFormat::Jsonl => parse_jsonl(text, mapping)?,
        FileFormat::Csv => parse_csv(text, mapping)?,
    };
    if items.is_empty() {
        return Err(DatasetError::Empty("the file holds no items".into()));
    }
    Ok(items)
}

/// The text of `bytes`, without a byte-order mark; the line of the first invalid byte when
/// it is not UTF-8.
fn utf8(bytes: &[u8]) -> Result<&str, DatasetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        DatasetError::InvalidEncoding { line }
    })
}

/// A serde_json message without its own " at line 1 column N" (the line is ours).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(head, _)| head);
    format!("not valid JSON: {text} (column {})", e.column())
}

fn parse_jsonl(text: &str, mapping: &ColumnMapping) -> Result<Vec<DatasetItem>, DatasetError> {
    let mut items = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| DatasetError::InvalidFile { line: line_no, message: json_message(&e) })?;
        let Value::Object(object) = value else {
            return Err(DatasetError::InvalidFile { line: line_no, message: "expected a JSON object".into() });
        };
        let item = if mapping.is_empty() {
            item_from_object(line_no, object)?
        } else {
            if mapping.input_columns.is_empty() && mapping.messages_column.is_none() {
                return Err(DatasetError::InvalidMapping(
                    "name the input: input columns (variables) or a messages column".into(),
                ));
            }
            item_from_columns(line_no, mapping, |column| object.get(column).cloned())?
        };
        items.push(item);
    }
    Ok(items)
}

/// `{"input", "expected"?, "metadata"?}`; an input that is a string is one user message.
fn item_from_object(line: u64, mut object: Map<String, Value>) -> Result<DatasetItem, DatasetError> {
    let input = object.get_mut("input").ok_or_else(|| DatasetError::InvalidFile {
        line,
        message: "no \"input\" field: write {\"input\": ..., \"expected\": ...} or map the fields with input/messages columns"
            .into(),
    })?;
    if let Value::String(text) = input {
        *input = serde_json::json!([{"role": "user", "content": text}]);
    }
    serde_json::from_value(Value::Object(object)).map_err(|e| DatasetError::InvalidFile {
        line,
        message: format!("not a dataset item: {e}; input must be a list of messages or an object of variables"),
    })
}

/// Builds an item from named columns; `get` returns a column's value, `None` when absent.
fn item_from_columns(
    line: u64,
    mapping: &ColumnMapping,
    get: impl Fn(&str) -> Option<Value>,
) -> Result<DatasetItem, DatasetError> {
    let column = |name: &str| get(name).ok_or_else(|| DatasetError::MissingColumn { line, column: name.to_string() });
    let input = match &mapping.messages_column {
        Some(name) => ItemInput::Messages(messages(line, name, column(name)?)?),
        None => {
            let mut vars = Map::new();
            for name in &mapping.input_columns {
                vars.insert(name.clone(), column(name)?);
            }
            ItemInput::Variables(vars)
        }
    };
    let expected = match &mapping.expected_column {
        // An empty cell or a null means "no expected output".
        Some(name) => Some(column(name)?).filter(|v| !v.is_null() && v.as_str() != Some("")),
        None => None,
    };
    let mut metadata = Map::new();
    for name in &mapping.metadata_columns {
        metadata.insert(name.clone(), column(name)?);
    }
    Ok(DatasetItem { input, expected, metadata })
}

/// A messages cell: a JSON array of messages (or its text), else plain text as one user message.
fn messages(line: u64, column: &str, value: Value) -> Result<Vec<ChatMessage>, DatasetError> {
    let value = match value {
        Value::String(text) if text.trim_start().starts_with('[') => serde_json::from_str(&text).map_err(|e| {
            DatasetError::InvalidFile { line, message: format!("column '{column}': {}", json_message(&e)) }
        })?,
        Value::String(text) => return Ok(vec![ChatMessage::text(Role::User, text)]),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| DatasetError::InvalidFile {
        line,
        message: format!("column '{column}' is not a list of chat messages: {e}"),
    })
}

fn csv_error(e: &csv::Error) -> DatasetError {
    let line = e.position().map_or(0, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields, the header has {expected_len}")
        }
        _ => format!("not valid CSV: {e}"),
    };
    DatasetError::InvalidFile { line, message }
}

/// CSV with a header row. Without input or messages columns, every column not named as
/// expected or metadata is an input variable; a column called `expected` is the expected
/// output unless another is named.
fn parse_csv(text: &str, mapping: &ColumnMapping) -> Result<Vec<DatasetItem>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().map_err(|e| csv_error(&e))?.iter().map(str::to_string).collect();
    let mut mapping = mapping.clone();
    if mapping.expected_column.is_none() && mapping.input_columns.is_empty() && headers.iter().any(|h| h == "expected")
    {
        mapping.expected_column = Some("expected".into());
    }
    if mapping.input_columns.is_empty() && mapping.messages_column.is_none() {
        mapping.input_columns = headers
            .iter()
            .filter(|h| Some(*h) != mapping.expected_column.as_ref() && !mapping.metadata_columns.contains(h))
            .cloned()
            .collect();
        if mapping.input_columns.is_empty() {
            return Err(DatasetError::InvalidMapping("the CSV header leaves no column for the input".into()));
        }
    }
    let named = mapping.input_columns.iter().chain(&mapping.metadata_columns).chain(&mapping.messages_column);
    for name in named.chain(&mapping.expected_column) {
        if !headers.contains(name) {
            return Err(DatasetError::MissingColumn { line: 1, column: name.clone() });
        }
    }
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, csv::Position::line);
        let get = |name: &str| {
            let index = headers.iter().position(|h| h == name)?;
            record.get(index).map(|cell| Value::String(cell.to_string()))
        };
        items.push(item_from_columns(line, &mapping, get)?);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jsonl(text: &str) -> Result<Vec<DatasetItem>, DatasetError> {
        parse_items(text.as_bytes(), FileFormat::Jsonl, &ColumnMapping::default())
    }

    #[test]
    fn jsonl_items_as_they_are() {
        let items = jsonl(concat!(
            "{\"input\": {\"q\": \"2+2?\"}, \"expected\": \"4\", \"metadata\": {\"topic\": \"math\"}}\n",
            "\n",
            "{\"input\": [{\"role\": \"user\", \"content\": \"hi\"}]}\r\n",
            "{\"input\": \"plain text\"}\n",
        ))
        .unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].expected, Some(json!("4")));
        assert_eq!(items[0].metadata["topic"], "math");
        assert!(matches!(&items[1].input, ItemInput::Messages(m) if m[0].text_content() == "hi"));
        assert!(
            matches!(&items[2].input, ItemInput::Messages(m) if m[0].role == Role::User && m[0].text_content() == "plain text")
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let err = jsonl("{\"input\": \"a\"}\n{\"input\": \"b\"\n").unwrap_err();
        assert_eq!(err.code(), "invalid_dataset_file");
        assert!(err.to_string().starts_with("line 2: not valid JSON: EOF while parsing an object"), "{err}");
        let err = jsonl("{\"input\": \"a\"}\n\n{\"question\": \"b\"}").unwrap_err();
        assert!(err.to_string().starts_with("line 3: no \"input\" field"), "{err}");
        let err = jsonl("[1, 2]").unwrap_err();
        assert_eq!(err.to_string(), "line 1: expected a JSON object");
        let err = jsonl("{\"input\": 42}").unwrap_err();
        assert!(err.to_string().contains("input must be a list of messages"), "{err}");
        let err = parse_items(
            b"{\"input\": \"ok\"}\n{\"input\": \"caf\xE9\"}\n",
            FileFormat::Jsonl,
            &ColumnMapping::default(),
        )
        .unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            ("invalid_encoding", "line 2: the file is not valid UTF-8 text; convert it to UTF-8 first")
        );
        assert_eq!(jsonl("\n  \n").unwrap_err().code(), "empty_dataset");
    }

    #[test]
    fn flat_jsonl_objects_are_mapped() {
        let mapping = ColumnMapping {
            input_columns: vec!["question".into(), "context".into()],
            expected_column: Some("answer".into()),
            metadata_columns: vec!["category".into()],
            ..Default::default()
        };
        let text = "{\"question\": \"q1\", \"context\": \"c1\", \"answer\": \"a1\", \"category\": \"billing\", \"extra\": 1}\n\
                    {\"question\": \"q2\", \"context\": \"c2\", \"answer\": null, \"category\": \"tech\"}\n";
        let items = parse_items(text.as_bytes(), FileFormat::Jsonl, &mapping).unwrap();
        assert_eq!(
            items[0],
            DatasetItem {
                input: ItemInput::Variables(json!({"question": "q1", "context": "c1"}).as_object().unwrap().clone()),
                expected: Some(json!("a1")),
                metadata: json!({"category": "billing"}).as_object().unwrap().clone(),
            }
        );
        assert_eq!(items[1].expected, None);
        let err =
            parse_items(b"{\"question\": \"q\", \"context\": \"c\", \"category\": \"x\"}", FileFormat::Jsonl, &mapping)
                .unwrap_err();
        assert_eq!(err.to_string(), "line 1: column 'answer' is missing");
        let both =
            ColumnMapping { messages_column: Some("m".into()), input_columns: vec!["q".into()], ..Default::default() };
        assert_eq!(parse_items(b"{}", FileFormat::Jsonl, &both).unwrap_err().code(), "invalid_column_mapping");
    }

    #[test]
    fn csv_rows_with_defaults_and_flags() {
        let text = "question,expected,category\n\"What is 2+2, really?\",4,math\nCapital of France?,,geo\n";
        let items = parse_items(text.as_bytes(), FileFormat::Csv, &ColumnMapping::default()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].input,
            ItemInput::Variables(
                json!({"question": "What is 2+2, really?", "category": "math"}).as_object().unwrap().clone()
            )
        );
        assert_eq!((items[0].expected.clone(), items[1].expected.clone()), (Some(json!("4")), None));

        let mapping = ColumnMapping {
            messages_column: Some("question".into()),
            expected_column: Some("expected".into()),
            metadata_columns: vec!["category".into()],
            ..Default::default()
        };
        let items = parse_items(text.as_bytes(), FileFormat::Csv, &mapping).unwrap();
        assert!(matches!(&items[1].input, ItemInput::Messages(m) if m[0].text_content() == "Capital of France?"));
        assert_eq!(items[1].metadata["category"], "geo");

        let missing = ColumnMapping { input_columns: vec!["prompt".into()], ..Default::default() };
        let err = parse_items(text.as_bytes(), FileFormat::Csv, &missing).unwrap_err();
        assert_eq!(err.to_string(), "line 1: column 'prompt' is missing");
        let err = parse_items(b"a,b\n1,2\n3\n", FileFormat::Csv, &ColumnMapping::default()).unwrap_err();
        assert_eq!(err.to_string(), "line 3: the row has 1 fields, the header has 2");
        let err = parse_items(b"a,b\n1,2\n\xFF,3\n", FileFormat::Csv, &ColumnMapping::default()).unwrap_err();
        assert_eq!(err.to_string(), "line 3: the file is not valid UTF-8 text; convert it to UTF-8 first");
        let messages = "m\n\"[{\"\"role\"\": \"\"user\"\", \"\"content\"\": \"\"x\"\"}]\"\n";
        let only = ColumnMapping { messages_column: Some("m".into()), ..Default::default() };
        let items = parse_items(messages.as_bytes(), FileFormat::Csv, &only).unwrap();
        assert!(matches!(&items[0].input, ItemInput::Messages(m) if m[0].text_content() == "x"));
    }
}
