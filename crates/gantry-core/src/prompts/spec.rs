//! What a prompt version holds (messages as templates, typed variables, model, parameters,
//! output schema), the draft a user writes (file or API body), and turning a draft into a
//! checked spec.

use super::error::PromptError;
use super::template;
use crate::registry::validate_name;
use gantry_types::{ChatCompletionRequest, ChatMessage, RegistryKind, Role};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// The content of one prompt version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    /// Chat messages whose content is a MiniJinja template.
    pub messages: Vec<MessageTemplate>,
    #[serde(default)]
    pub variables: Vec<VariableSpec>,
    /// The model to call; a client may override it with `gantry.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Chat parameters (temperature, max_tokens, stop, seed, response_format, ...); the
    /// client's own values win.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// A JSON Schema the assistant's answer must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// One message of a prompt: a role and a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    pub role: Role,
    pub content: String,
}

/// A declared variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: VariableType,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The JSON type a variable's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableType {
    #[default]
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Any,
}

impl VariableType {
    /// The name used in files and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            VariableType::String => "string",
            VariableType::Number => "number",
            VariableType::Integer => "integer",
            VariableType::Boolean => "boolean",
            VariableType::Array => "array",
            VariableType::Object => "object",
            VariableType::Any => "any",
        }
    }

    /// Whether `value` has this type (an integer is also a number).
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            VariableType::String => value.is_string(),
            VariableType::Number => value.is_number(),
            VariableType::Integer => value.is_i64() || value.is_u64(),
            VariableType::Boolean => value.is_boolean(),
            VariableType::Array => value.is_array(),
            VariableType::Object => value.is_object(),
            VariableType::Any => true,
        }
    }
}

/// The JSON type of a value, as error messages name it.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A prompt as a user writes it: in a TOML/YAML file or as the body of `POST /api/prompts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptDraft {
    pub name: String,
    pub messages: Vec<MessageTemplate>,
    #[serde(default)]
    pub variables: VariableDrafts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The commit message (API bodies; files take it from `--message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who pushes (API bodies; files take it from `--author`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// Variables as written: a list of tables with `name`, or one table keyed by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariableDrafts(pub Vec<(Option<String>, VariableDraft)>);

/// One variable as written; `required` defaults to "no default given".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: VariableType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Serialize for VariableDrafts {
    /// Always the list form, each entry with its name.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (key, draft) in &self.0 {
            let mut draft = draft.clone();
            if key.is_some() {
                draft.name = key.clone();
            }
            seq.serialize_element(&draft)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for VariableDrafts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DraftsVisitor;
        impl<'de> Visitor<'de> for DraftsVisitor {
            type Value = VariableDrafts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of variables (each with a `name`) or a table of variables keyed by name")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(draft) = seq.next_element::<VariableDraft>()? {
                    out.push((None, draft));
                }
                Ok(VariableDrafts(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let draft = map.next_value::<VariableDraft>()?;
                    if draft.name.as_ref().is_some_and(|n| n != &name) {
                        return Err(de::Error::custom(format!(
                            "variable '{name}' also gives name = '{}'; drop the inner name",
                            draft.name.as_deref().unwrap_or_default()
                        )));
                    }
                    out.push((Some(name), draft));
                }
                Ok(VariableDrafts(out))
            }
        }
        deserializer.deserialize_any(DraftsVisitor)
    }
}

/// Names templates reserve; a variable cannot take them.
const RESERVED_VARIABLE_NAMES: &[&str] =
    &["loop", "self", "super", "caller", "varargs", "kwargs", "true", "false", "none", "True", "False", "None"];

/// Parameters that a prompt cannot fix: the model and messages have their own fields, and
/// streaming is the client's choice.
const FORBIDDEN_PARAMETERS: &[(&str, &str)] = &[
    ("model", "set the model with the top-level `model` field"),
    ("messages", "messages are the prompt's `messages`"),
    ("stream", "streaming is the client's choice"),
    ("stream_options", "streaming is the client's choice"),
    ("gantry", "`gantry` is the request's own field"),
];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_variables(drafts: VariableDrafts) -> Result<Vec<VariableSpec>, PromptError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(drafts.0.len());
    for (index, (key, draft)) in drafts.0.into_iter().enumerate() {
        let name = match key.or(draft.name) {
            Some(name) => name,
            None => {
                return Err(PromptError::InvalidPrompt {
                    field: format!("variables[{index}].name"),
                    message: "every variable needs a `name`".to_string(),
                })
            }
        };
        let bad = |message: String| PromptError::InvalidVariableDeclaration { variable: name.clone(), message };
        if !is_identifier(&name) {
            return Err(bad("a variable name is letters, digits and '_', not starting with a digit".to_string()));
        }
        if RESERVED_VARIABLE_NAMES.contains(&name.as_str()) {
            return Err(bad(format!("'{name}' is reserved by the template language")));
        }
        if !seen.insert(name.clone()) {
            return Err(bad("declared twice".to_string()));
        }
        if let Some(default) = &draft.default {
            if draft.required == Some(true) {
                return Err(bad("a required variable cannot have a default; drop one of them".to_string()));
            }
            if !draft.kind.accepts(default) {
                return Err(bad(format!(
                    "the default is {} but the variable's type is {}",
                    json_type_name(default),
                    draft.kind.as_str()
                )));
            }
        }
        out.push(VariableSpec {
            required: draft.required.unwrap_or(draft.default.is_none()),
            name,
            kind: draft.kind,
            default: draft.default,
            description: draft.description.filter(|d| !d.trim().is_empty()),
        });
    }
    Ok(out)
}

fn check_messages(messages: &[MessageTemplate]) -> Result<(), PromptError> {
    if messages.is_empty() {
        return Err(PromptError::InvalidPrompt {
            field: "messages".to_string(),
            message: "a prompt needs at least one message".to_string(),
        });
    }
    for (i, m) in messages.iter().enumerate() {
        if m.role == Role::Tool {
            return Err(PromptError::InvalidPrompt {
                field: format!("messages[{i}].role"),
                message: "role 'tool' answers a tool call and cannot be part of a prompt".to_string(),
            });
        }
        if m.content.trim().is_empty() {
            return Err(PromptError::InvalidPrompt {
                field: format!("messages[{i}].content"),
                message: "the message is empty".to_string(),
            });
        }
    }
    Ok(())
}

/// Applies `parameters` to a request, refusing values of the wrong type or out of range.
pub(crate) fn apply_parameters(
    request: &ChatCompletionRequest,
    parameters: &Map<String, Value>,
    only_unset: bool,
) -> Result<ChatCompletionRequest, PromptError> {
    if parameters.is_empty() {
        return Ok(request.clone());
    }
    let mut body = match serde_json::to_value(request) {
        Ok(Value::Object(body)) => body,
        _ => return Err(PromptError::Internal("a chat request did not serialise to an object".to_string())),
    };
    for (key, value) in parameters {
        if !only_unset || body.get(key).is_none_or(Value::is_null) {
            body.insert(key.clone(), value.clone());
        }
    }
    let merged = Value::Object(body);
    serde_path_to_error::deserialize::<_, ChatCompletionRequest>(&merged).map_err(|e| {
        let path = e.path().to_string();
        PromptError::InvalidParameter { param: format!("parameters.{path}"), message: e.into_inner().to_string() }
    })
}

fn check_parameters(parameters: &Map<String, Value>) -> Result<(), PromptError> {
    for (key, why) in FORBIDDEN_PARAMETERS {
        if parameters.contains_key(*key) {
            return Err(PromptError::InvalidParameter {
                param: format!("parameters.{key}"),
                message: format!("'{key}' cannot be a prompt parameter: {why}"),
            });
        }
    }
    let probe = ChatCompletionRequest::new("probe", vec![ChatMessage::text(Role::User, "probe")]);
    let applied = apply_parameters(&probe, parameters, false)?;
    crate::validate::check_chat(&applied).map_err(|e| match e {
        crate::GatewayError::InvalidRequest { message, param } => {
            PromptError::InvalidParameter { param: format!("parameters.{}", param.unwrap_or_default()), message }
        }
        other => PromptError::Internal(other.to_string()),
    })
}

fn check_output_schema(schema: &Value) -> Result<(), PromptError> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err(PromptError::InvalidOutputSchema {
            message: format!("a JSON Schema is an object or a boolean, not {}", json_type_name(schema)),
        });
    }
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| {
        // The schema is the instance checked against the meta-schema: the path points into it.
        let at = e.instance_path().to_string();
        let message = if at.is_empty() { e.to_string() } else { format!("{e} (at '{at}')") };
        PromptError::InvalidOutputSchema { message }
    })
}

impl PromptDraft {
    /// Checks everything a push must: the name, messages and template syntax, variables
    /// (names, types, defaults) and that every variable a template uses is declared,
    /// parameters, and the output schema. Returns the name and the spec to store.
    pub fn into_spec(self) -> Result<(String, PromptSpec), PromptError> {
        validate_name(RegistryKind::Prompt, &self.name)?;
        check_messages(&self.messages)?;
        let variables = check_variables(self.variables)?;
        let model = match self.model {
            Some(m) if m.trim().is_empty() => {
                return Err(PromptError::InvalidPrompt {
                    field: "model".to_string(),
                    message: "the model is empty; leave it out to let clients choose".to_string(),
                })
            }
            other => other,
        };
        check_parameters(&self.parameters)?;
        if let Some(schema) = &self.output_schema {
            check_output_schema(schema)?;
        }
        let spec = PromptSpec {
            messages: self.messages,
            variables,
            model,
            parameters: self.parameters,
            output_schema: self.output_schema,
        };
        template::check_templates(&spec)?;
        Ok((self.name, spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(body: Value) -> PromptDraft {
        serde_json::from_value(body).unwrap()
    }

    fn base() -> Value {
        json!({"name": "p", "messages": [{"role": "user", "content": "Hi {{ who }}"}],
               "variables": [{"name": "who"}]})
    }

    #[test]
    fn variables_may_be_a_list_or_a_table_and_required_follows_the_default() {
        let (_, spec) = draft(base()).into_spec().unwrap();
        assert_eq!(spec.variables[0].kind, VariableType::String);
        assert!(spec.variables[0].required);
        let mut body = base();
        body["variables"] = json!({"who": {"type": "string", "default": "you", "description": " "}});
        let (_, spec) = draft(body).into_spec().unwrap();
        let who = &spec.variables[0];
        assert_eq!((who.name.as_str(), who.required, who.default.clone()), ("who", false, Some(json!("you"))));
        assert_eq!(who.description, None, "blank descriptions are dropped");
    }

    #[test]
    fn bad_declarations_name_the_variable() {
        let cases = [
            (json!([{"name": "who", "type": "integer", "default": "x"}]), "invalid_variable_declaration", "integer"),
            (json!([{"name": "who", "required": true, "default": "x"}]), "invalid_variable_declaration", "required"),
            (json!([{"name": "who"}, {"name": "who"}]), "invalid_variable_declaration", "twice"),
            (json!([{"name": "2x"}]), "invalid_variable_declaration", "letters"),
            (json!([{"name": "loop"}]), "invalid_variable_declaration", "reserved"),
            (json!([{"type": "string"}]), "invalid_prompt", "name"),
        ];
        for (variables, code, needle) in cases {
            let mut body = base();
            body["variables"] = variables.clone();
            let err = draft(body).into_spec().unwrap_err();
            assert_eq!(err.code(), code, "{variables}: {err}");
            assert!(err.to_string().contains(needle), "{variables}: {err}");
        }
        let mut body = base();
        body["variables"] = json!({"who": {"name": "other"}});
        assert!(serde_json::from_value::<PromptDraft>(body).unwrap_err().to_string().contains("inner name"));
    }

    #[test]
    fn types_accept_matching_values_only() {
        assert!(VariableType::Integer.accepts(&json!(3)));
        assert!(!VariableType::Integer.accepts(&json!(3.5)));
        assert!(VariableType::Number.accepts(&json!(3)));
        assert!(!VariableType::String.accepts(&json!(3)));
        assert!(VariableType::Any.accepts(&json!(null)));
        assert_eq!(json_type_name(&json!(2.5)), "number");
        assert_eq!(json_type_name(&json!([1])), "array");
    }

    #[test]
    fn parameters_are_checked_by_name_type_and_range() {
        let cases = [
            (json!({"temperature": "hot"}), "parameters.temperature"),
            (json!({"temperature": 7}), "parameters.temperature"),
            (json!({"max_tokens": 0}), "parameters.max_tokens"),
            (json!({"stream": true}), "parameters.stream"),
            (json!({"model": "x"}), "parameters.model"),
        ];
        for (parameters, param) in cases {
            let mut body = base();
            body["parameters"] = parameters.clone();
            let err = draft(body).into_spec().unwrap_err();
            assert_eq!((err.code(), err.param().as_deref()), ("invalid_parameter", Some(param)), "{parameters}: {err}");
        }
        let mut body = base();
        body["parameters"] = json!({"temperature": 0.2, "stop": ["\n\n"], "seed": 7, "frequency_penalty": 0.5});
        let (_, spec) = draft(body).into_spec().unwrap();
        assert_eq!(spec.parameters["frequency_penalty"], json!(0.5), "unknown chat parameters pass through");
    }

    #[test]
    fn output_schemas_must_compile() {
        let mut body = base();
        body["output_schema"] = json!({"type": "object", "required": ["answer"]});
        assert!(draft(body).into_spec().is_ok());
        for schema in [json!({"type": "strange"}), json!("object"), json!({"minLength": -1})] {
            let mut body = base();
            body["output_schema"] = schema.clone();
            let err = draft(body).into_spec().unwrap_err();
            assert_eq!(err.code(), "invalid_output_schema", "{schema}: {err}");
        }
    }

    #[test]
    fn messages_and_names_are_checked() {
        let mut body = base();
        body["messages"] = json!([]);
        assert_eq!(draft(body).into_spec().unwrap_err().param().as_deref(), Some("messages"));
        let mut body = base();
        body["messages"] = json!([{"role": "tool", "content": "x"}]);
        assert_eq!(draft(body).into_spec().unwrap_err().param().as_deref(), Some("messages[0].role"));
        let mut body = base();
        body["name"] = json!("bad name");
        assert_eq!(draft(body).into_spec().unwrap_err().code(), "invalid_name");
    }
}
