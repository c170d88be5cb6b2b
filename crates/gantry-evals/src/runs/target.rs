//! The thing an eval runs each item against: a model, a prompt version or a chain version,
//! resolved once when the run starts so every item meets the same version.

use super::error::EvalError;
use super::suite::TargetSpec;
use gantry_core::chains::{self, ChainVersion};
use gantry_core::prompts::{self, PromptVersion};
use gantry_core::registry::{Reference, DEFAULT_LABEL};
use gantry_core::{CallContext, Chains, Gateway};
use gantry_types::{value_text, ChatCompletionRequest, ItemInput, RegistryKind, TraceId};
use serde_json::Value;
use std::time::Instant;

/// A resolved target.
pub enum Target {
    Model { model: String, sampling: TargetSpec },
    Prompt { version: PromptVersion, label: Option<String>, model: Option<String>, sampling: TargetSpec },
    Chain { version: ChainVersion, output_field: Option<String> },
}

/// What one item's call produced.
pub struct TargetAnswer {
    pub trace_id: Option<TraceId>,
    pub output: Result<String, String>,
    pub latency_ms: f64,
}

impl Target {
    /// Resolves the prompt or chain a suite names.
    pub async fn resolve(spec: &TargetSpec, gateway: &Gateway) -> Result<Self, EvalError> {
        let store = gateway.store().as_ref();
        if let Some(reference) = &spec.prompt {
            let failed = |e: &dyn std::fmt::Display| EvalError::Target {
                target: format!("prompt:{reference}"),
                message: e.to_string(),
            };
            let parsed = Reference::parse(RegistryKind::Prompt, reference, DEFAULT_LABEL).map_err(|e| failed(&e))?;
            let version = prompts::resolve_reference(store, &parsed).await.map_err(|e| failed(&e))?;
            if spec.model.is_none() && version.spec.model.is_none() {
                return Err(failed(&"the prompt names no model; set target.model"));
            }
            return Ok(Target::Prompt {
                label: parsed.label().map(str::to_string),
                version,
                model: spec.model.clone(),
                sampling: spec.clone(),
            });
        }
        if let Some(reference) = &spec.chain {
            let version = chains::resolve(store, reference)
                .await
                .map_err(|e| EvalError::Target { target: format!("chain:{reference}"), message: e.to_string() })?;
            return Ok(Target::Chain { version, output_field: spec.output_field.clone() });
        }
        match &spec.model {
            Some(model) => Ok(Target::Model { model: model.clone(), sampling: spec.clone() }),
            None => Err(EvalError::Target { target: "none".into(), message: "no model, prompt or chain".into() }),
        }
    }

    /// How runs name it: `model:NAME`, `prompt:NAME@VERSION`, `chain:NAME@VERSION`.
    pub fn describe(&self) -> String {
        match self {
            Target::Model { model, .. } => format!("model:{model}"),
            Target::Prompt { version, model: Some(model), .. } => {
                format!("prompt:{}@{} on {model}", version.name, version.version)
            }
            Target::Prompt { version, .. } => format!("prompt:{}@{}", version.name, version.version),
            Target::Chain { version, .. } => format!("chain:{}@{}", version.name, version.version),
        }
    }

    /// Checks an item's input has the shape the target takes; the message says what to change.
    pub fn accepts(&self, input: &ItemInput) -> Result<(), String> {
        match (self, input) {
            (Target::Model { .. }, ItemInput::Variables(_)) => Err(
                "a model target sends chat messages, but the item's input is variables; use a prompt target to turn \
                 variables into messages"
                    .to_string(),
            ),
            (Target::Chain { .. }, ItemInput::Messages(_)) => {
                Err("a chain target takes variables, but the item's input is chat messages".to_string())
            }
            _ => Ok(()),
        }
    }

    /// Runs one item's input; the call is traced like any other traffic.
    pub async fn call(&self, gateway: &Gateway, chains: &Chains, input: &ItemInput) -> TargetAnswer {
        let started = Instant::now();
        let (trace_id, output) = match self {
            Target::Model { model, sampling } => {
                let ItemInput::Messages(messages) = input else {
                    return failed_before_call(started, self.accepts(input));
                };
                let request = with_sampling(ChatCompletionRequest::new(model.clone(), messages.clone()), sampling);
                let call = gateway.chat_with(request, CallContext::default()).await;
                (Some(call.trace_id), call.result.map(|c| answer_text(&c)).map_err(|e| e.to_string()))
            }
            Target::Prompt { version, label, model, sampling } => {
                let (variables, messages) = match input {
                    ItemInput::Variables(v) => (Value::Object(v.clone()), Vec::new()),
                    ItemInput::Messages(m) => (Value::Object(Default::default()), m.clone()),
                };
                let client = with_sampling(ChatCompletionRequest::new("", messages), sampling);
                match prompts::build_call(version, label.as_deref(), &variables, model.clone(), client) {
                    Err(e) => (None, Err(e.to_string())),
                    Ok(prompt_call) => {
                        let (request, context) = prompt_call.into_parts(None);
                        let call = gateway.chat_with(request, context).await;
                        (Some(call.trace_id), call.result.map(|c| answer_text(&c)).map_err(|e| e.to_string()))
                    }
                }
            }
            Target::Chain { version, output_field } => {
                let ItemInput::Variables(variables) = input else {
                    return failed_before_call(started, self.accepts(input));
                };
                let run = chains.run_version(version, Value::Object(variables.clone())).await;
                let output = run
                    .result
                    .map_err(|e| e.to_string())
                    .and_then(|r| chain_output(&r.output, output_field.as_deref()));
                (Some(run.trace_id), output)
            }
        };
        TargetAnswer { trace_id, output, latency_ms: started.elapsed().as_secs_f64() * 1000.0 }
    }
}

fn failed_before_call(started: Instant, reason: Result<(), String>) -> TargetAnswer {
    TargetAnswer {
        trace_id: None,
        output: Err(reason.err().unwrap_or_else(|| "the item's input does not fit the target".to_string())),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// The suite's sampling settings fill what the request leaves unset.
fn with_sampling(mut request: ChatCompletionRequest, sampling: &TargetSpec) -> ChatCompletionRequest {
    request.temperature = request.temperature.or(sampling.temperature);
    request.top_p = request.top_p.or(sampling.top_p);
    request.max_tokens = request.max_tokens.or(sampling.max_tokens);
    request.seed = request.seed.or(sampling.seed);
    request
}

fn answer_text(completion: &gantry_types::ChatCompletion) -> String {
    completion.choices.first().map(|c| c.message.text_content()).unwrap_or_default()
}

/// A chain's output as text: a string as it is, a field of an object when the suite names
/// one, anything else as JSON.
fn chain_output(output: &Value, field: Option<&str>) -> Result<String, String> {
    let Some(field) = field else {
        return Ok(value_text(output));
    };
    let mut value = output;
    for part in field.split('.') {
        value = value.get(part).ok_or_else(|| format!("the chain's output has no field '{field}'"))?;
    }
    Ok(value_text(value))
}

#[cfg(test)]
mod tests {
    use super::chain_output;
    use serde_json::json;

    #[test]
    fn chain_outputs_become_text() {
        assert_eq!(chain_output(&json!("hi"), None).unwrap(), "hi");
        assert_eq!(chain_output(&json!({"a": {"b": 3}}), Some("a.b")).unwrap(), "3");
        assert_eq!(chain_output(&json!({"a": 1}), None).unwrap(), r#"{"a":1}"#);
        assert!(chain_output(&json!({"a": 1}), Some("b")).unwrap_err().contains("no field 'b'"));
    }
}
