//! Checks a chain before it is stored or run: names, references between steps, cycles, and
//! template syntax. The result is a plan: each step with the steps it waits for.

use super::templates::{self, Binding};
use super::ChainError;
use gantry_types::{ChainSpec, StepAction, StepSpec};
use std::collections::{BTreeSet, HashMap};

/// The name templates use for the chain's input.
pub const INPUT: &str = "input";

/// A checked chain: steps in declaration order with their dependencies.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    /// Index of the step whose output is the chain's output.
    pub output: usize,
}

/// A step and the indices of the steps it reads.
#[derive(Debug)]
pub struct PlannedStep {
    pub spec: StepSpec,
    pub depends_on: Vec<usize>,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The templates a step renders, each with the field it came from (for error messages).
fn step_templates(action: &StepAction) -> Vec<(String, Binding<'_>)> {
    match action {
        StepAction::Llm { variables, .. } => {
            variables.iter().map(|(name, source)| (format!("variables.{name}"), Binding::classify(source))).collect()
        }
        StepAction::Retrieve { query, .. } => vec![("query".to_string(), Binding::classify(query))],
        StepAction::Template { template } => vec![("template".to_string(), Binding::Text(template))],
        StepAction::ParseJson { from } => vec![("from".to_string(), Binding::classify(from))],
    }
}

/// Checks `spec` and orders its steps by what they read.
pub fn plan(spec: &ChainSpec) -> Result<Plan, ChainError> {
    let invalid = |message: String| ChainError::InvalidChain { chain: spec.name.clone(), message };
    if spec.steps.is_empty() {
        return Err(invalid("a chain needs at least one step".into()));
    }
    let mut index = HashMap::new();
    for (i, step) in spec.steps.iter().enumerate() {
        if !is_identifier(&step.name) || step.name == INPUT {
            return Err(invalid(format!(
                "step name '{}' must be a letter or '_' followed by letters, digits or '_', and not '{INPUT}'",
                step.name
            )));
        }
        if index.insert(step.name.as_str(), i).is_some() {
            return Err(invalid(format!("two steps are named '{}'", step.name)));
        }
    }
    for field in &spec.inputs {
        if !is_identifier(field) {
            return Err(invalid(format!("input name '{field}' must be an identifier")));
        }
    }
    let mut steps = Vec::with_capacity(spec.steps.len());
    for step in &spec.steps {
        if let StepAction::Retrieve { top_k: Some(0), .. } = step.action {
            return Err(invalid(format!("step '{}': top_k must be at least 1", step.name)));
        }
        let mut depends_on = BTreeSet::new();
        for (field, binding) in step_templates(&step.action) {
            let names = templates::referenced_names(&binding)
                .map_err(|e| invalid(format!("step '{}', {field}: {e}", step.name)))?;
            for name in names {
                if name == INPUT {
                    continue;
                }
                match index.get(name.as_str()) {
                    Some(&i) if spec.steps[i].name == step.name => {
                        return Err(invalid(format!("step '{}' reads its own output in {field}", step.name)))
                    }
                    Some(&i) => {
                        depends_on.insert(i);
                    }
                    None => {
                        return Err(invalid(format!(
                            "step '{}', {field}: '{name}' is neither '{INPUT}' nor a step of this chain",
                            step.name
                        )))
                    }
                }
            }
        }
        steps.push(PlannedStep { spec: step.clone(), depends_on: depends_on.into_iter().collect() });
    }
    if let Some(cycle) = find_cycle(&steps) {
        return Err(invalid(format!("steps depend on each other in a cycle: {}", cycle.join(" -> "))));
    }
    let output = *index
        .get(spec.output.as_str())
        .ok_or_else(|| invalid(format!("output '{}' is not a step of this chain", spec.output)))?;
    Ok(Plan { steps, output })
}

/// A dependency cycle as step names, first name repeated at the end; `None` when acyclic.
fn find_cycle(steps: &[PlannedStep]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(i: usize, steps: &[PlannedStep], marks: &mut [Mark], path: &mut Vec<usize>) -> Option<Vec<String>> {
        marks[i] = Mark::Open;
        path.push(i);
        for &d in &steps[i].depends_on {
            match marks[d] {
                Mark::Open => {
                    let start = path.iter().position(|&p| p == d).unwrap_or(0);
                    let mut names: Vec<String> = path[start..].iter().map(|&p| steps[p].spec.name.clone()).collect();
                    names.push(steps[d].spec.name.clone());
                    return Some(names);
                }
                Mark::New => {
                    if let Some(cycle) = visit(d, steps, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; steps.len()];
    for i in 0..steps.len() {
        if marks[i] == Mark::New {
            if let Some(cycle) = visit(i, steps, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::ChainSpec;

    fn spec(toml_text: &str) -> ChainSpec {
        toml::from_str(toml_text).unwrap()
    }

    const QA: &str = r#"
name = "qa"
output = "answer"
[[steps]]
name = "docs"
type = "retrieve"
collection = "handbook"
query = "{{ input.question }}"
top_k = 3
[[steps]]
name = "answer"
type = "llm"
prompt = "answer@production"
variables = { question = "{{ input.question }}", context = "{{ docs }}" }
[[steps]]
name = "title"
type = "template"
template = "Q: {{ input.question }}"
"#;

    #[test]
    fn dependencies_come_from_the_names_templates_read() {
        let plan = plan(&spec(QA)).unwrap();
        assert_eq!(plan.output, 1);
        assert_eq!(plan.steps[0].depends_on, Vec::<usize>::new());
        assert_eq!(plan.steps[1].depends_on, vec![0]);
        assert_eq!(plan.steps[2].depends_on, Vec::<usize>::new());
    }

    fn error_of(text: &str) -> String {
        plan(&spec(text)).unwrap_err().to_string()
    }

    #[test]
    fn bad_chains_are_refused_with_the_reason() {
        let unknown = QA.replace("{{ docs }}", "{{ dcos }}");
        assert!(error_of(&unknown).contains("'dcos' is neither 'input' nor a step"), "{}", error_of(&unknown));
        let cycle = QA.replace("{{ input.question }}\"\ntop_k", "{{ answer }}\"\ntop_k");
        assert!(error_of(&cycle).contains("cycle: docs -> answer -> docs"), "{}", error_of(&cycle));
        let own = QA.replace("Q: {{ input.question }}", "{{ title }}");
        assert!(error_of(&own).contains("reads its own output"), "{}", error_of(&own));
        let output = QA.replace("output = \"answer\"", "output = \"nope\"");
        assert!(error_of(&output).contains("output 'nope' is not a step"));
        let dup = QA.replace("name = \"title\"", "name = \"docs\"");
        assert!(error_of(&dup).contains("two steps are named 'docs'"));
        let syntax = QA.replace("Q: {{ input.question }}", "Q: {{ input.question ");
        let message = error_of(&syntax);
        assert!(message.contains("step 'title', template") && message.contains("line 1"), "{message}");
        let top_k = QA.replace("top_k = 3", "top_k = 0");
        assert!(error_of(&top_k).contains("top_k must be at least 1"));
        let bad_name = QA.replace("name = \"title\"", "name = \"input\"");
        assert!(error_of(&bad_name).contains("step name 'input'"));
    }
}
