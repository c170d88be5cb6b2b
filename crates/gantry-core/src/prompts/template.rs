//! The sandboxed template engine: MiniJinja with no loader (so `include`/`import` can reach
//! no file and nothing can reach the network), strict undefined values, and a fuel limit so
//! a runaway loop ends with an error instead of a busy server. Variables are checked against
//! their declarations before anything renders.

use super::error::PromptError;
use super::spec::{json_type_name, PromptSpec, VariableType};
use gantry_types::{ChatMessage, MessageContent};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// Instructions one message may execute; ample for loops over thousands of items.
const FUEL: u64 = 2_000_000;

fn sandbox<'s>() -> Environment<'s> {
    // `Environment::new` has the builtin filters and tests and no loader.
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(FUEL));
    // Debug mode keeps source spans, which give errors their column.
    env.set_debug(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env
}

/// The one sandbox prompts and chain steps render in.
pub(crate) static SANDBOX: LazyLock<Environment<'static>> = LazyLock::new(sandbox);

/// Line and 1-based column of a template error, from its byte range in `source`.
fn location(err: &minijinja::Error, source: &str) -> (Option<usize>, Option<usize>) {
    let column = err.range().and_then(|range| {
        let before = source.get(..range.start.min(source.len()))?;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Some(before[line_start..].chars().count() + 1)
    });
    (err.line(), column)
}

fn detail(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

/// Checks every message template parses and uses only declared variables.
pub(crate) fn check_templates(spec: &PromptSpec) -> Result<(), PromptError> {
    let env = sandbox();
    let globals: BTreeSet<String> = env.globals().map(|(name, _)| name.to_string()).collect();
    let declared: BTreeSet<&str> = spec.variables.iter().map(|v| v.name.as_str()).collect();
    for (index, message) in spec.messages.iter().enumerate() {
        let template = env.template_from_str(&message.content).map_err(|e| {
            let (line, column) = location(&e, &message.content);
            PromptError::TemplateSyntax { message_index: index, line, column, detail: detail(&e) }
        })?;
        let mut undeclared: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !declared.contains(name.as_str()) && !globals.contains(name))
            .collect();
        undeclared.sort();
        if let Some(name) = undeclared.into_iter().next() {
            return Err(PromptError::UndeclaredVariable {
                message_index: index,
                name,
                declared: declared.iter().map(|d| d.to_string()).collect(),
            });
        }
    }
    Ok(())
}

/// Checks `given` against the declarations and fills in defaults: an undeclared name, a
/// missing required variable or a value of the wrong type is an error naming the variable.
/// An optional variable without a default that is not given is `none` in the templates.
pub fn resolve_variables(spec: &PromptSpec, given: &Value) -> Result<Map<String, Value>, PromptError> {
    let empty = Map::new();
    let given = match given {
        Value::Null => &empty,
        Value::Object(map) => map,
        other => return Err(PromptError::VariablesNotObject { found: json_type_name(other) }),
    };
    let declared = || spec.variables.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    let mut unknown: Vec<&String> =
        given.keys().filter(|name| !spec.variables.iter().any(|v| &v.name == *name)).collect();
    unknown.sort();
    if let Some(name) = unknown.first() {
        return Err(PromptError::UnknownVariable { name: name.to_string(), declared: declared() });
    }
    let mut resolved = Map::new();
    for var in &spec.variables {
        let value = match given.get(&var.name) {
            Some(Value::Null) if var.kind != VariableType::Any && var.required => {
                return Err(PromptError::VariableType {
                    name: var.name.clone(),
                    expected: var.kind.as_str(),
                    actual: "null",
                })
            }
            Some(value) if !value.is_null() || var.kind == VariableType::Any => {
                if !var.kind.accepts(value) {
                    return Err(PromptError::VariableType {
                        name: var.name.clone(),
                        expected: var.kind.as_str(),
                        actual: json_type_name(value),
                    });
                }
                value.clone()
            }
            _ if var.required => return Err(PromptError::MissingVariable { name: var.name.clone() }),
            _ => var.default.clone().unwrap_or(Value::Null),
        };
        resolved.insert(var.name.clone(), value);
    }
    Ok(resolved)
}

/// Renders every message with already resolved variables.
pub fn render_resolved(spec: &PromptSpec, variables: &Map<String, Value>) -> Result<Vec<ChatMessage>, PromptError> {
    let context = minijinja::Value::from_serialize(variables);
    spec.messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            let text = SANDBOX.render_str(&message.content, &context).map_err(|e| {
                let (line, column) = location(&e, &message.content);
                PromptError::Render { message_index: index, line, column, detail: detail(&e) }
            })?;
            Ok(ChatMessage {
                role: message.role,
                content: Some(MessageContent::Text(text)),
                name: None,
                tool_calls: None,
                tool_call_id: None,
                refusal: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::spec::PromptDraft;
    use gantry_types::Role;
    use serde_json::json;

    fn spec(messages: Value, variables: Value) -> Result<PromptSpec, PromptError> {
        let draft: PromptDraft =
            serde_json::from_value(json!({"name": "t", "messages": messages, "variables": variables})).unwrap();
        draft.into_spec().map(|(_, s)| s)
    }

    fn render(spec: &PromptSpec, vars: Value) -> Result<Vec<ChatMessage>, PromptError> {
        let resolved = resolve_variables(spec, &vars)?;
        render_resolved(spec, &resolved)
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = spec(
            json!([{"role": "system", "content": "ok"}, {"role": "user", "content": "line one\n  Hi {{ who }"}]),
            json!([{"name": "who"}]),
        )
        .unwrap_err();
        match &err {
            PromptError::TemplateSyntax { message_index, line, column, .. } => {
                assert_eq!((*message_index, *line), (1, Some(2)), "{err}");
                assert!(column.is_some_and(|c| c >= 10), "{err}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert_eq!(err.code(), "template_syntax_error");
        assert_eq!(err.param().as_deref(), Some("messages[1].content"));
        assert!(err.to_string().contains("at line 2, column"), "{err}");

        let err = spec(json!([{"role": "user", "content": "{% if who %}open"}]), json!([{"name": "who"}])).unwrap_err();
        assert_eq!(err.code(), "template_syntax_error", "{err}");
    }

    #[test]
    fn templates_may_use_only_declared_variables() {
        let err = spec(json!([{"role": "user", "content": "{{ who }} and {{ whom }}"}]), json!([{"name": "who"}]))
            .unwrap_err();
        assert_eq!(err.code(), "undeclared_variable");
        assert!(err.to_string().contains("'whom'") && err.to_string().contains("declared: 'who'"), "{err}");
        // Loop variables, `set` targets and builtin globals are not undeclared.
        let ok = spec(
            json!([{"role": "user", "content":
                "{% set n = items | length %}{% for i in items %}{{ loop.index }}{{ i }}{% endfor %}{{ n }}{{ range(2) | list }}"}]),
            json!([{"name": "items", "type": "array"}]),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn rendering_checks_variables_and_fills_defaults() {
        let s = spec(
            json!([{"role": "system", "content": "Tier: {{ tier }}{% if note %} ({{ note }}){% endif %}"},
                   {"role": "user", "content": "{{ question }} x{{ count }}"}]),
            json!({"question": {}, "tier": {"default": "free"}, "note": {"required": false},
                   "count": {"type": "integer", "default": 1}}),
        )
        .unwrap();
        let out = render(&s, json!({"question": "Why?"})).unwrap();
        assert_eq!(out[0].role, Role::System);
        assert_eq!(out[0].text_content(), "Tier: free");
        assert_eq!(out[1].text_content(), "Why? x1");
        let out = render(&s, json!({"question": "Q", "tier": "pro", "note": "vip", "count": 3})).unwrap();
        assert_eq!(out[0].text_content(), "Tier: pro (vip)");
        assert_eq!(out[1].text_content(), "Q x3");

        let err = render(&s, json!({"question": "Q", "colour": "red"})).unwrap_err();
        assert_eq!((err.code(), err.param().as_deref()), ("unknown_variable", Some("variables.colour")), "{err}");
        let err = render(&s, json!({})).unwrap_err();
        assert_eq!((err.code(), err.param().as_deref()), ("missing_variable", Some("variables.question")), "{err}");
        let err = render(&s, json!({"question": "Q", "count": "three"})).unwrap_err();
        assert_eq!(err.code(), "variable_type_mismatch");
        assert_eq!(err.to_string(), "variable 'count' must be integer, got string");
        let err = render(&s, json!({"question": null})).unwrap_err();
        assert_eq!(err.to_string(), "variable 'question' must be string, got null");
        let err = render(&s, json!(["Q"])).unwrap_err();
        assert_eq!(err.code(), "invalid_variables");
    }

    #[test]
    fn render_errors_name_the_message_and_position() {
        let s = spec(
            json!([{"role": "user", "content": "a\nb {{ profile.missing.deeper }}"}]),
            json!({"profile": {"type": "object"}}),
        )
        .unwrap();
        let err = render(&s, json!({"profile": {"name": "x"}})).unwrap_err();
        assert_eq!(err.code(), "template_render_error", "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn the_sandbox_reads_no_files_and_stops_runaway_loops() {
        let s = spec(json!([{"role": "user", "content": "{% include '/etc/passwd' %}"}]), json!([])).unwrap();
        let err = render(&s, json!({})).unwrap_err();
        assert_eq!(err.code(), "template_render_error");
        assert!(!err.to_string().contains("root:"), "{err}");
        let s = spec(
            json!([{"role": "user", "content": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"}]),
            json!([]),
        )
        .unwrap();
        let err = render(&s, json!({})).unwrap_err();
        assert!(err.to_string().contains("fuel"), "{err}");
    }
}
