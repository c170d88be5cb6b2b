//! Request sampling options and the llama.cpp sampler chain built from them.

use gantry_providers::ProviderError;
use gantry_types::ChatCompletionRequest;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use std::hash::{BuildHasher, Hasher};

/// JSON grammar in GBNF (compact JSON: no whitespace outside strings, so a small model cannot
/// spend its whole budget on indentation).
pub(crate) const JSON_GRAMMAR: &str = r#"root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ( string ":" value ( "," string ":" value )* )? "}"
array  ::= "[" ( value ( "," value )* )? "]"
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] ) )* "\""
number ::= ("-"? ([0-9] | [1-9] [0-9]*)) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
"#;

/// How to pick each token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SamplingParams {
    /// `None` means greedy (temperature 0).
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: u32,
    /// Constrain output to a JSON object.
    pub json: bool,
}

impl SamplingParams {
    /// Reads and checks the request's sampling fields. OpenAI's default temperature is 1.
    pub fn from_request(request: &ChatCompletionRequest) -> Result<Self, ProviderError> {
        let temperature = request.temperature.unwrap_or(1.0);
        if !temperature.is_finite() || !(0.0..=2.0).contains(&temperature) {
            return Err(ProviderError::InvalidRequest(format!(
                "temperature must be between 0 and 2, got {temperature}"
            )));
        }
        let top_p = match request.top_p {
            Some(p) if !p.is_finite() || p <= 0.0 || p > 1.0 => {
                return Err(ProviderError::InvalidRequest(format!(
                    "top_p must be greater than 0 and at most 1, got {p}"
                )))
            }
            Some(p) if p < 1.0 => Some(p),
            _ => None,
        };
        let json = match &request.response_format {
            None => false,
            Some(format) => match format.get("type").and_then(|t| t.as_str()) {
                Some("text") => false,
                Some("json_object") => true,
                Some(other) => {
                    return Err(ProviderError::Unsupported(format!(
                        "the local model does not support response_format type {other:?} (only \"text\" and \"json_object\")"
                    )))
                }
                None => {
                    return Err(ProviderError::InvalidRequest(
                        "response_format must be an object with a \"type\"".into(),
                    ))
                }
            },
        };
        Ok(Self {
            temperature: (temperature > 0.0).then_some(temperature),
            top_p,
            seed: request.seed.map_or_else(random_seed, seed_from_request),
            json,
        })
    }

    /// The sampler chain: grammar first (it masks tokens), then top-p, temperature, draw.
    pub fn build(&self, model: &LlamaModel) -> LlamaSampler {
        let mut chain = Vec::new();
        if self.json {
            match LlamaSampler::grammar(model, JSON_GRAMMAR, "root") {
                Ok(grammar) => chain.push(grammar),
                Err(err) => {
                    tracing::warn!(error = %err, "JSON grammar rejected; output is unconstrained")
                }
            }
        }
        match self.temperature {
            None => chain.push(LlamaSampler::greedy()),
            Some(t) => {
                if let Some(p) = self.top_p {
                    chain.push(LlamaSampler::top_p(p, 1));
                }
                chain.push(LlamaSampler::temp(t));
                chain.push(LlamaSampler::dist(self.seed));
            }
        }
        LlamaSampler::chain_simple(chain)
    }
}

/// Folds a 64-bit request seed into llama.cpp's 32 bits, avoiding its "random" marker value.
fn seed_from_request(seed: i64) -> u32 {
    let bits = seed as u64;
    let folded = (bits ^ (bits >> 32)) as u32;
    if folded == u32::MAX {
        folded - 1
    } else {
        folded
    }
}

fn random_seed() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    hasher.write_u128(nanos);
    seed_from_request(hasher.finish() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::{ChatMessage, Role};
    use serde_json::json;

    fn request() -> ChatCompletionRequest {
        ChatCompletionRequest::new("m", vec![ChatMessage::text(Role::User, "hi")])
    }

    #[test]
    fn reads_sampling_fields() {
        let mut r = request();
        r.temperature = Some(0.0);
        r.seed = Some(7);
        let p = SamplingParams::from_request(&r).unwrap();
        assert_eq!(p.temperature, None);
        assert_eq!(p.seed, 7);
        assert!(!p.json);

        r.temperature = None;
        r.top_p = Some(0.9);
        r.response_format = Some(json!({"type": "json_object"}));
        let p = SamplingParams::from_request(&r).unwrap();
        assert_eq!(p.temperature, Some(1.0));
        assert_eq!(p.top_p, Some(0.9));
        assert!(p.json);
    }

    #[test]
    fn rejects_bad_values() {
        let mut r = request();
        r.temperature = Some(-1.0);
        assert!(matches!(SamplingParams::from_request(&r), Err(ProviderError::InvalidRequest(_))));
        let mut r = request();
        r.top_p = Some(0.0);
        assert!(matches!(SamplingParams::from_request(&r), Err(ProviderError::InvalidRequest(_))));
        let mut r = request();
        r.response_format = Some(json!({"type": "json_schema", "json_schema": {}}));
        assert!(matches!(SamplingParams::from_request(&r), Err(ProviderError::Unsupported(_))));
        assert_ne!(seed_from_request(-1), u32::MAX);
    }
}
