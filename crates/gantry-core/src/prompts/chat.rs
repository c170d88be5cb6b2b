//! A prompt version used for a chat call: its rendered messages first, then the caller's; its
//! model and parameters fill what the caller left unset; the answer is checked against its
//! output schema. `/v1/chat/completions` reaches this through `model: "prompt:NAME@LABEL"`.

use super::error::PromptError;
use super::spec::apply_parameters;
use super::template::{render_resolved, resolve_variables};
use super::{resolve_reference, PromptVersion};
use crate::error::GatewayError;
use crate::gateway::{CallContext, Gateway};
use crate::recorder::{Outcome, OutputValidator};
use crate::registry::{Reference, RegistryError, DEFAULT_LABEL};
use gantry_store::RegistryStore;
use gantry_types::{ChatCompletionRequest, ChatMessage, OutputCheck, PromptUse, RegistryKind, TraceId, TraceKind};
use serde::Deserialize;
use serde_json::{json, Value};

/// `model` values starting with this name a registered prompt.
pub const PROMPT_MODEL_PREFIX: &str = "prompt:";
/// The request field that carries Gantry's own options; never sent upstream.
pub const GANTRY_FIELD: &str = "gantry";

/// The `gantry` field of a chat request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GantryOptions {
    /// The prompt's variables.
    #[serde(default)]
    variables: Value,
    /// A model to call instead of the prompt's own.
    #[serde(default)]
    model: Option<String>,
}

/// A chat request built from a prompt version, with what its trace records.
pub struct PromptCall {
    pub request: ChatCompletionRequest,
    pub prompt: PromptUse,
    /// Checks the answer against the version's output schema, when it declares one.
    pub output_validator: Option<OutputValidator>,
}

impl PromptCall {
    /// The request and the call context the gateway records it with.
    pub fn into_parts(self, parent: Option<(TraceId, String)>) -> (ChatCompletionRequest, CallContext) {
        let context = CallContext {
            parent,
            prompt: Some(self.prompt),
            output_validator: self.output_validator,
            ..CallContext::default()
        };
        (self.request, context)
    }
}

/// Whether a chat `model` names a registered prompt.
pub fn is_prompt_model(model: &str) -> bool {
    model.starts_with(PROMPT_MODEL_PREFIX)
}

/// Builds the chat request `version` makes with `variables`: the rendered messages, then
/// `client`'s messages; `model` (else the version's model) is called; the version's
/// parameters fill what `client` left unset. `label` is recorded as the label asked for.
pub fn build_call(
    version: &PromptVersion,
    label: Option<&str>,
    variables: &Value,
    model: Option<String>,
    client: ChatCompletionRequest,
) -> Result<PromptCall, PromptError> {
    let spec = &version.spec;
    let resolved = resolve_variables(spec, variables)?;
    let mut messages = render_resolved(spec, &resolved)?;
    let mut request = client;
    request.extra.remove(GANTRY_FIELD);
    messages.append(&mut request.messages);
    request.messages = messages;
    request.model = model
        .filter(|m| !m.trim().is_empty())
        .or_else(|| spec.model.clone())
        .ok_or_else(|| PromptError::ModelMissing { reference: format!("{}@{}", version.name, version.version) })?;
    let request = apply_parameters(&request, &spec.parameters, true)?;
    let output_validator = spec.output_schema.as_ref().map(output_validator).transpose()?;
    Ok(PromptCall {
        request,
        prompt: PromptUse {
            name: version.name.clone(),
            version: version.version,
            label: label.map(str::to_string),
            variables: Value::Object(resolved),
        },
        output_validator,
    })
}

/// [`build_call`] for callers without a client request (chain steps): the version's model,
/// and `extra_messages` after the rendered ones.
pub fn build_call_with_messages(
    version: &PromptVersion,
    label: Option<&str>,
    variables: &Value,
    extra_messages: Vec<ChatMessage>,
) -> Result<PromptCall, PromptError> {
    build_call(version, label, variables, None, ChatCompletionRequest::new("", extra_messages))
}

/// A validator that parses the assistant's content as JSON and checks it against `schema`.
pub fn output_validator(schema: &Value) -> Result<OutputValidator, PromptError> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| PromptError::InvalidOutputSchema { message: e.to_string() })?;
    Ok(Box::new(move |message: &Value| check_output(&validator, message)))
}

fn invalid(reason: String) -> OutputCheck {
    OutputCheck { valid: false, error: Some(reason) }
}

/// Checks an assistant message (`{"role": "assistant", "content": ...}`) against the schema.
fn check_output(validator: &jsonschema::Validator, message: &Value) -> OutputCheck {
    let content = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => return invalid("the answer has no text content to check against the output schema".to_string()),
    };
    let parsed: Value = match serde_json::from_str(&content) {
        Ok(parsed) => parsed,
        Err(e) => return invalid(format!("the answer is not JSON: {e}")),
    };
    match validator.validate(&parsed) {
        Ok(()) => OutputCheck { valid: true, error: None },
        Err(e) => {
            let at = e.instance_path().to_string();
            invalid(if at.is_empty() { e.to_string() } else { format!("{e} (at {at})") })
        }
    }
}

/// Turns a client's `prompt:NAME@..` request into the request that prompt makes.
pub async fn prepare_client_request<S: RegistryStore + ?Sized>(
    store: &S,
    request: ChatCompletionRequest,
) -> Result<PromptCall, PromptError> {
    let text = request.model.strip_prefix(PROMPT_MODEL_PREFIX).unwrap_or(&request.model);
    let reference = Reference::parse(RegistryKind::Prompt, text, DEFAULT_LABEL)?;
    let options: GantryOptions = match request.extra.get(GANTRY_FIELD) {
        None | Some(Value::Null) => GantryOptions::default(),
        Some(value) => serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let param = if path == "." { GANTRY_FIELD.to_string() } else { format!("{GANTRY_FIELD}.{path}") };
            PromptError::InvalidGantryField { message: format!("{param}: {}", e.into_inner()), param }
        })?,
    };
    let version = resolve_reference(store, &reference).await?;
    build_call(&version, reference.label(), &options.variables, options.model, request)
}

/// The gateway error for a prompt failure in a chat call; parameters are named as the chat
/// request has them (`model`, `gantry.variables.x`).
pub fn gateway_error(e: &PromptError) -> GatewayError {
    let status = e.http_status();
    if status >= 500 {
        return GatewayError::Internal(e.to_string());
    }
    let param = match e {
        PromptError::Registry(RegistryError::InvalidReference { .. }) => Some("model".to_string()),
        PromptError::Registry(_) if status == 404 => Some("model".to_string()),
        other => other.param().map(|p| if p.starts_with("variables") { format!("{GANTRY_FIELD}.{p}") } else { p }),
    };
    GatewayError::Rejected { status, code: e.code(), message: e.to_string(), param }
}

/// The request and context for a `/v1` chat call: plain models pass through; `prompt:`
/// models are rendered. A failure is traced and returned with its trace id.
pub async fn prepare(
    gateway: &Gateway,
    request: ChatCompletionRequest,
    stream: bool,
) -> Result<(ChatCompletionRequest, CallContext), (TraceId, GatewayError)> {
    if !is_prompt_model(&request.model) {
        return Ok((request, CallContext::default()));
    }
    match prepare_client_request(gateway.store().as_ref(), request.clone()).await {
        Ok(call) => Ok(call.into_parts(None)),
        Err(e) => {
            let error = gateway_error(&e);
            // The trace keeps the request as the client sent it, variables included: they
            // are what a failed prompt call is usually about. Nothing went upstream.
            let recorder = gateway.start_span(TraceKind::Chat, &request.model, json!(request), stream);
            let trace_id = recorder.id;
            recorder.finish(Outcome::failed(&error, error.http_status()));
            Err((trace_id, error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::spec::PromptDraft;
    use gantry_types::Role;

    fn version(body: Value) -> PromptVersion {
        let (name, spec) = serde_json::from_value::<PromptDraft>(body).unwrap().into_spec().unwrap();
        PromptVersion {
            name,
            version: 4,
            spec,
            message: None,
            author: "t".into(),
            created_at: chrono::Utc::now(),
            content_hash: "sha256:x".into(),
        }
    }

    #[test]
    fn rendered_messages_come_first_and_the_client_wins() {
        let v =
            version(json!({"name": "p", "model": "m", "parameters": {"temperature": 0.1, "max_tokens": 50, "seed": 3},
            "variables": [{"name": "q"}], "messages": [{"role": "system", "content": "Answer {{ q }}"}]}));
        let mut client: ChatCompletionRequest = serde_json::from_value(json!({
            "model": "prompt:p", "messages": [{"role": "user", "content": "more"}], "temperature": 0.9,
            "gantry": {"variables": {"q": "why"}}}))
        .unwrap();
        client.extra.insert("logprobs".into(), json!(true));
        let call = build_call(&v, Some("production"), &json!({"q": "why"}), None, client).unwrap();
        let r = &call.request;
        assert_eq!(r.model, "m");
        assert_eq!(
            r.messages.iter().map(|m| (m.role, m.text_content())).collect::<Vec<_>>(),
            vec![(Role::System, "Answer why".to_string()), (Role::User, "more".to_string())]
        );
        assert_eq!((r.temperature, r.max_tokens, r.seed), (Some(0.9), Some(50), Some(3)));
        assert!(!r.extra.contains_key("gantry"), "the gantry field is never forwarded");
        assert_eq!(r.extra["logprobs"], json!(true));
        assert_eq!(
            call.prompt,
            PromptUse {
                name: "p".into(),
                version: 4,
                label: Some("production".into()),
                variables: json!({"q": "why"})
            }
        );
        assert!(call.output_validator.is_none());

        let call =
            build_call(&v, None, &json!({"q": "x"}), Some("other".into()), ChatCompletionRequest::new("", vec![]))
                .unwrap();
        assert_eq!(call.request.model, "other");
        let no_model = version(json!({"name": "p", "messages": [{"role": "user", "content": "hi"}]}));
        let err = build_call_with_messages(&no_model, None, &json!({}), vec![]).err().unwrap();
        assert_eq!(err.code(), "prompt_model_missing");
    }

    #[test]
    fn answers_are_checked_against_the_output_schema() {
        let validate = output_validator(&json!({"type": "object", "required": ["answer"],
            "properties": {"answer": {"type": "string"}}}))
        .unwrap();
        let answer = |content: Value| validate(&json!({"role": "assistant", "content": content}));
        assert_eq!(answer(json!("{\"answer\": \"yes\"}")), OutputCheck { valid: true, error: None });
        let check = answer(json!("{\"answer\": 3}"));
        assert!(!check.valid && check.error.as_deref().unwrap().contains("/answer"), "{check:?}");
        let check = answer(json!("{}"));
        assert!(check.error.as_deref().unwrap().contains("answer"), "{check:?}");
        let check = answer(json!("Sure! Here it is."));
        assert!(check.error.as_deref().unwrap().starts_with("the answer is not JSON"), "{check:?}");
        let check = answer(Value::Null);
        assert!(check.error.as_deref().unwrap().contains("no text content"), "{check:?}");
    }

    #[test]
    fn chat_errors_name_the_request_parameters() {
        let e = gateway_error(&PromptError::MissingVariable { name: "q".into() });
        assert!(
            matches!(&e, GatewayError::Rejected { status: 400, code: "missing_variable", param: Some(p), .. } if p == "gantry.variables.q")
        );
        let e = gateway_error(&PromptError::Registry(RegistryError::NotFound {
            kind: RegistryKind::Prompt,
            name: "x".into(),
        }));
        assert!(
            matches!(&e, GatewayError::Rejected { status: 404, code: "prompt_not_found", param: Some(p), .. } if p == "model")
        );
    }
}
