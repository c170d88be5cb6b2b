//! The MiniJinja side of chains: which names a step's templates read, and rendering them
//! against the run's context (the chain input and the outputs of finished steps).

use minijinja::Environment;
use serde_json::Value;
use std::collections::HashSet;

/// A step field: text to render, or one `{{ expression }}` whose value keeps its type
/// (a list of retrieved chunks stays a list when passed to a prompt variable).
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    Text(&'a str),
    Expression(&'a str),
}

impl<'a> Binding<'a> {
    /// An expression when the whole field is one `{{ ... }}`, else text.
    pub fn classify(source: &'a str) -> Self {
        let trimmed = source.trim();
        match trimmed.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) {
            Some(inner) if !inner.contains("{{") && !inner.contains("}}") => {
                Binding::Expression(inner.trim().trim_start_matches('-').trim_end_matches('-').trim())
            }
            _ => Binding::Text(source),
        }
    }
}

/// Chains render in the prompts' sandbox: no loader (templates cannot read files or reach the
/// network), strict undefined values (a misspelt field is an error, not an empty string), and
/// a fuel limit (a runaway loop ends with an error).
fn environment() -> &'static Environment<'static> {
    &crate::prompts::SANDBOX
}

/// A MiniJinja error as one line, with the line and column when the source pins it down.
pub fn describe(error: &minijinja::Error, source: &str) -> String {
    let detail = error.detail().map(str::to_string).unwrap_or_else(|| error.kind().to_string());
    match (error.line(), error.range()) {
        (Some(line), Some(range)) => {
            let line_start = source[..range.start.min(source.len())].rfind('\n').map_or(0, |i| i + 1);
            let column = source[line_start..range.start.min(source.len())].chars().count() + 1;
            format!("{detail} (line {line}, column {column})")
        }
        (Some(line), None) => format!("{detail} (line {line})"),
        _ => detail,
    }
}

/// The top-level names `binding` reads (`input`, step names, ...).
pub fn referenced_names(binding: &Binding<'_>) -> Result<HashSet<String>, String> {
    let env = environment();
    match *binding {
        Binding::Text(source) => {
            let template = env.template_from_str(source).map_err(|e| describe(&e, source))?;
            Ok(template.undeclared_variables(false))
        }
        Binding::Expression(source) => {
            let expression = env.compile_expression(source).map_err(|e| describe(&e, source))?;
            Ok(expression.undeclared_variables(false))
        }
    }
}

/// Renders `binding` against `context` (a JSON object of the input and finished steps).
pub fn render(binding: &Binding<'_>, context: &Value) -> Result<Value, String> {
    let env = environment();
    match *binding {
        Binding::Text(source) => {
            let template = env.template_from_str(source).map_err(|e| describe(&e, source))?;
            template.render(context).map(Value::String).map_err(|e| describe(&e, source))
        }
        Binding::Expression(source) => {
            let expression = env.compile_expression(source).map_err(|e| describe(&e, source))?;
            let value = expression.eval(context).map_err(|e| describe(&e, source))?;
            if value.is_undefined() {
                return Err(format!("'{source}' is undefined"));
            }
            serde_json::to_value(&value).map_err(|e| format!("'{source}' has no JSON form: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lone_expression_keeps_its_type_and_text_renders_to_a_string() {
        let context = json!({"input": {"n": 3}, "docs": [{"text": "a"}, {"text": "b"}]});
        assert_eq!(render(&Binding::classify("{{ docs }}"), &context).unwrap(), json!([{"text": "a"}, {"text": "b"}]));
        assert_eq!(render(&Binding::classify(" {{ input.n + 1 }} "), &context).unwrap(), json!(4));
        assert_eq!(
            render(&Binding::classify("{% for d in docs %}{{ d.text }};{% endfor %}"), &context).unwrap(),
            json!("a;b;")
        );
        assert_eq!(render(&Binding::classify("n={{ input.n }}"), &context).unwrap(), json!("n=3"));
    }

    #[test]
    fn missing_fields_and_syntax_errors_are_reported_with_their_place() {
        let context = json!({"input": {}});
        let missing = render(&Binding::classify("Hello {{ input.name.first }}"), &context).unwrap_err();
        assert!(missing.contains("undefined"), "{missing}");
        let syntax = referenced_names(&Binding::classify("line one\nHello {{ input.name ")).unwrap_err();
        assert!(syntax.contains("line 2"), "{syntax}");
        let names =
            referenced_names(&Binding::classify("{{ a.b }} {{ input.x }} {% for c in cs %}{{ c }}{% endfor %}"))
                .unwrap();
        assert_eq!(names, HashSet::from(["a".to_string(), "input".to_string(), "cs".to_string()]));
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel_instead_of_holding_the_server() {
        let source = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let err = render(&Binding::classify(source), &json!({})).unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }
}
