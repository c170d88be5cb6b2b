//! Comparing two prompt versions: a canonical text form (stable order, templates verbatim,
//! one line per setting) diffed line by line, and the list of fields that changed.

use super::spec::{PromptSpec, VariableSpec};
use crate::registry::canonical_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// The difference between two versions of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptDiff {
    pub name: String,
    pub from_version: u32,
    pub to_version: u32,
    /// Paths of the fields that differ (`messages[1].content`, `parameters.temperature`, ...).
    pub changed: Vec<String>,
    /// A unified diff of the canonical texts; empty when the versions are equal.
    pub diff: String,
    /// The canonical texts side by side, line against line (what the web UI shows).
    #[serde(default)]
    pub rows: Vec<DiffRow>,
}

/// One line of a side-by-side diff: the old line on the left, the new on the right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    /// `same`, `changed`, `removed` (left only) or `added` (right only).
    pub kind: String,
    pub left: Option<String>,
    pub right: Option<String>,
}

/// Lines `old` and `new` side by side: equal lines pair up, and a run of removed lines pairs
/// with the run of added lines that replaces it, so an edited line reads across one row.
pub fn side_by_side(old: &str, new: &str) -> Vec<DiffRow> {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(old, new);
    let mut rows = Vec::new();
    let (mut removed, mut added): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<DiffRow>, removed: &mut Vec<String>, added: &mut Vec<String>| {
        for i in 0..removed.len().max(added.len()) {
            let (left, right) = (removed.get(i).cloned(), added.get(i).cloned());
            let kind = match (&left, &right) {
                (Some(_), Some(_)) => "changed",
                (Some(_), None) => "removed",
                _ => "added",
            };
            rows.push(DiffRow { kind: kind.to_string(), left, right });
        }
        removed.clear();
        added.clear();
    };
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_string();
        match change.tag() {
            ChangeTag::Delete => removed.push(line),
            ChangeTag::Insert => added.push(line),
            ChangeTag::Equal => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push(DiffRow { kind: "same".to_string(), left: Some(line.clone()), right: Some(line) });
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

fn variable_line(v: &VariableSpec) -> String {
    let mut line = format!("  {}: {}, {}", v.name, v.kind.as_str(), if v.required { "required" } else { "optional" });
    if let Some(default) = &v.default {
        line.push_str(&format!(", default {}", canonical_json(default)));
    }
    if let Some(description) = &v.description {
        line.push_str(&format!(" -- {description}"));
    }
    line
}

/// The canonical text of a spec: what `diff` compares, meant for people to read.
pub fn canonical_text(spec: &PromptSpec) -> String {
    let mut out = String::new();
    out.push_str(&format!("model: {}\n", spec.model.as_deref().unwrap_or("(client's choice)")));
    out.push_str("parameters:\n");
    for (key, value) in &spec.parameters {
        out.push_str(&format!("  {key} = {}\n", canonical_json(value)));
    }
    out.push_str("variables:\n");
    for v in &spec.variables {
        out.push_str(&variable_line(v));
        out.push('\n');
    }
    for (i, m) in spec.messages.iter().enumerate() {
        out.push_str(&format!("messages[{i}] {}:\n", m.role.as_str()));
        for line in m.content.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(schema) = &spec.output_schema {
        out.push_str("output_schema:\n");
        let sorted: Value = serde_json::from_str(&canonical_json(schema)).unwrap_or_else(|_| schema.clone());
        let pretty = serde_json::to_string_pretty(&sorted).unwrap_or_default();
        for line in pretty.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The paths of the fields that differ between `a` and `b`.
pub fn changed_fields(a: &PromptSpec, b: &PromptSpec) -> Vec<String> {
    let mut changed = Vec::new();
    if a.model != b.model {
        changed.push("model".to_string());
    }
    let keys: BTreeSet<&String> = a.parameters.keys().chain(b.parameters.keys()).collect();
    for key in keys {
        if a.parameters.get(key) != b.parameters.get(key) {
            changed.push(format!("parameters.{key}"));
        }
    }
    let names: BTreeSet<&String> = a.variables.iter().chain(&b.variables).map(|v| &v.name).collect();
    for name in names {
        let find = |spec: &'_ PromptSpec| spec.variables.iter().find(|v| &v.name == name).cloned();
        if find(a) != find(b) {
            changed.push(format!("variables.{name}"));
        }
    }
    for i in 0..a.messages.len().max(b.messages.len()) {
        match (a.messages.get(i), b.messages.get(i)) {
            (Some(x), Some(y)) => {
                if x.role != y.role {
                    changed.push(format!("messages[{i}].role"));
                }
                if x.content != y.content {
                    changed.push(format!("messages[{i}].content"));
                }
            }
            _ => changed.push(format!("messages[{i}]")),
        }
    }
    if a.output_schema != b.output_schema {
        changed.push("output_schema".to_string());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::spec::PromptDraft;
    use serde_json::json;

    fn spec(body: Value) -> PromptSpec {
        serde_json::from_value::<PromptDraft>(body).unwrap().into_spec().unwrap().1
    }

    #[test]
    fn side_by_side_pairs_edits_across_one_row() {
        let rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n");
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["same", "changed", "same", "added"]);
        assert_eq!(rows[1].left.as_deref(), Some("b"));
        assert_eq!(rows[1].right.as_deref(), Some("B"));
        assert_eq!(rows[3].left, None);
    }

    #[test]
    fn changed_fields_and_text_diff() {
        let a = spec(json!({"name": "p", "model": "m1", "parameters": {"temperature": 0.2},
            "variables": [{"name": "q"}],
            "messages": [{"role": "system", "content": "Be brief.\nBe kind."}, {"role": "user", "content": "{{ q }}"}]}));
        let b = spec(json!({"name": "p", "model": "m1", "parameters": {"temperature": 0.7, "seed": 1},
            "variables": [{"name": "q"}, {"name": "lang", "default": "en"}],
            "messages": [{"role": "system", "content": "Be brief.\nBe very kind."}, {"role": "user", "content": "{{ q }}"},
                         {"role": "assistant", "content": "Sure."}],
            "output_schema": {"type": "object"}}));
        assert_eq!(
            changed_fields(&a, &b),
            vec![
                "parameters.seed",
                "parameters.temperature",
                "variables.lang",
                "messages[0].content",
                "messages[2]",
                "output_schema"
            ]
        );
        assert!(changed_fields(&a, &a).is_empty());
        let text = canonical_text(&b);
        assert!(text.contains("messages[0] system:\n  Be brief.\n  Be very kind.\n"), "{text}");
        assert!(text.contains("  lang: string, optional, default \"en\"\n"), "{text}");
        let diff = crate::registry::unified_diff(&canonical_text(&a), &text, "p@1", "p@2");
        assert!(diff.contains("-  Be kind.\n+  Be very kind.\n"), "{diff}");
        assert!(diff.contains("-  temperature = 0.2\n+  seed = 1\n+  temperature = 0.7\n"), "{diff}");
        assert!(diff.contains("+messages[2] assistant:\n+  Sure.\n"), "{diff}");
    }
}
