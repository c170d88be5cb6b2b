//! Prompt files: TOML (`.toml`) or YAML (`.yaml`, `.yml`), so prompts can live in git and be
//! pushed by CI. Errors name the file, the field and, where the parser knows it, the line.

use super::error::PromptError;
use super::spec::PromptDraft;
use std::path::Path;

/// The syntax of a prompt file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Toml,
    Yaml,
}

impl FileFormat {
    /// The format a file's extension names.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(FileFormat::Toml),
            "yaml" | "yml" => Some(FileFormat::Yaml),
            _ => None,
        }
    }
}

fn field_error(source: &str, path: &serde_path_to_error::Path, inner: &dyn std::fmt::Display) -> PromptError {
    let field = path.to_string();
    let message = if field == "." { inner.to_string() } else { format!("field '{field}': {inner}") };
    PromptError::File { path: source.to_string(), message: message.trim_end().to_string() }
}

/// Parses a TOML or YAML document into `T`; errors name `source`, the field and the reason.
pub fn parse_structured<T: serde::de::DeserializeOwned>(
    text: &str,
    format: FileFormat,
    source: &str,
) -> Result<T, PromptError> {
    match format {
        FileFormat::Toml => {
            let de = toml::Deserializer::parse(text).map_err(|e| PromptError::File {
                path: source.to_string(),
                message: e.to_string().trim_end().into(),
            })?;
            serde_path_to_error::deserialize(de).map_err(|e| field_error(source, e.path(), e.inner()))
        }
        FileFormat::Yaml => {
            let de = yaml_serde::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| field_error(source, e.path(), e.inner()))
        }
    }
}

/// Parses a prompt from `text`; `source` names it in errors.
pub fn parse_prompt(text: &str, format: FileFormat, source: &str) -> Result<PromptDraft, PromptError> {
    let draft: PromptDraft = parse_structured(text, format, source)?;
    // A commit message written into the file would be repeated on every later push.
    for (field, flag) in [("message", draft.message.is_some()), ("author", draft.author.is_some())] {
        if flag {
            return Err(PromptError::File {
                path: source.to_string(),
                message: format!("field '{field}' does not belong in a prompt file; pass --{field} when pushing"),
            });
        }
    }
    Ok(draft)
}

/// Reads and parses a prompt file, choosing the syntax by extension.
pub fn read_prompt_file(path: &Path) -> Result<PromptDraft, PromptError> {
    let source = path.display().to_string();
    let format = FileFormat::from_path(path).ok_or_else(|| PromptError::File {
        path: source.clone(),
        message: "a prompt file ends in .toml, .yaml or .yml".to_string(),
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| PromptError::File { path: source.clone(), message: format!("cannot read it: {e}") })?;
    parse_prompt(&text, format, &source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::Role;
    use serde_json::json;

    const TOML: &str = r#"
name = "support"
model = "gpt"

[parameters]
temperature = 0.2
stop = ["END"]

[[variables]]
name = "question"
description = "what the customer asked"

[[variables]]
name = "tier"
default = "free"

[[messages]]
role = "system"
content = """
You help {{ tier }} customers.
"""

[[messages]]
role = "user"
content = "{{ question }}"

[output_schema]
type = "object"
required = ["answer"]
"#;

    #[test]
    fn toml_and_yaml_give_the_same_prompt() {
        let toml = parse_prompt(TOML, FileFormat::Toml, "p.toml").unwrap();
        let yaml = parse_prompt(
            r#"
name: support
model: gpt
parameters: {temperature: 0.2, stop: [END]}
variables:
  question: {description: what the customer asked}
  tier: {default: free}
messages:
  - role: system
    content: |
      You help {{ tier }} customers.
  - role: user
    content: "{{ question }}"
output_schema: {type: object, required: [answer]}
"#,
            FileFormat::Yaml,
            "p.yaml",
        )
        .unwrap();
        let (name, toml_spec) = toml.into_spec().unwrap();
        let (_, yaml_spec) = yaml.into_spec().unwrap();
        assert_eq!(name, "support");
        assert_eq!(toml_spec, yaml_spec);
        assert_eq!(toml_spec.messages[0].role, Role::System);
        assert_eq!(toml_spec.parameters["stop"], json!(["END"]));
        assert_eq!(toml_spec.output_schema, Some(json!({"type": "object", "required": ["answer"]})));
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let err = parse_prompt(&TOML.replace("role = \"user\"", "role = \"wizard\""), FileFormat::Toml, "p.toml")
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.code(), "invalid_prompt_file");
        assert!(text.starts_with("p.toml: field 'messages[1].role'") && text.contains("wizard"), "{text}");

        let err = parse_prompt("name = \"x\"\nmesages = []\n", FileFormat::Toml, "q.toml").unwrap_err();
        assert!(err.to_string().contains("q.toml") && err.to_string().contains("mesages"), "{err}");

        let err = parse_prompt("name = \"x\n", FileFormat::Toml, "r.toml").unwrap_err();
        assert!(err.to_string().contains("r.toml") && err.to_string().contains("line 1"), "{err}");

        let err = parse_prompt("name: x\nmessages:\n  - role: user\n    content: [1, 2]\n", FileFormat::Yaml, "s.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("s.yaml: field 'messages[0].content'"), "{err}");

        let err =
            parse_prompt("name = \"x\"\nmessage = \"m\"\nmessages = []\n", FileFormat::Toml, "t.toml").unwrap_err();
        assert!(err.to_string().contains("--message"), "{err}");
        assert_eq!(FileFormat::from_path(Path::new("a.YML")), Some(FileFormat::Yaml));
        assert_eq!(FileFormat::from_path(Path::new("a.json")), None);
    }
}
