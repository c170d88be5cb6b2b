//! A chat request to a deployed route, rewritten to what its release runs: the route's
//! environment comes from the request's `gantry.environment` (the server sets it from the
//! `x-gantry-environment` header or the key's environment), its sticky key from
//! `gantry.session` (the `x-gantry-session-id` header) or else the OpenAI `user` field.

use super::{assign_variant, DeploymentCache};
use crate::error::GatewayError;
use crate::prompts::{GANTRY_FIELD, PROMPT_MODEL_PREFIX};
use gantry_store::Store;
use gantry_types::{ChatCompletionRequest, DeploymentUse, ReleaseTarget, DEFAULT_ENVIRONMENT};
use serde_json::{Map, Value};

/// The `gantry` options a route reads; taken out of the request so nothing downstream sees them.
fn take_option(request: &mut ChatCompletionRequest, name: &str) -> Option<String> {
    let options = request.extra.get_mut(GANTRY_FIELD)?.as_object_mut()?;
    let value = options.remove(name)?;
    if options.is_empty() {
        request.extra.remove(GANTRY_FIELD);
    }
    value.as_str().map(str::to_string).filter(|v| !v.is_empty())
}

/// Rewrites `request` when its model names a deployed route, and says which release and arm
/// it went to; leaves it alone (`None`) when the model is not a deployed route.
pub async fn apply_deployment(
    cache: &DeploymentCache,
    store: &dyn Store,
    request: &mut ChatCompletionRequest,
) -> Result<Option<DeploymentUse>, GatewayError> {
    let environment = take_option(request, "environment").unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string());
    let session = take_option(request, "session");
    if request.model.starts_with(PROMPT_MODEL_PREFIX) {
        return Ok(None);
    }
    let internal = |e: gantry_store::StoreError| GatewayError::Internal(e.to_string());
    if !gantry_types::is_resource_name(&environment) {
        return Err(GatewayError::Rejected {
            status: 400,
            code: "invalid_parameter",
            message: format!("'{environment}' is not an environment name (letters, digits, '-', '_' or '.')"),
            param: Some("x-gantry-environment".to_string()),
        });
    }
    let Some(deployment) = cache.deployment(store, &request.model, &environment).await.map_err(internal)? else {
        // A route deployed elsewhere: say so, rather than that no such model exists.
        let elsewhere = cache.environments_of(store, &request.model).await.map_err(internal)?;
        if !elsewhere.is_empty() {
            return Err(GatewayError::Rejected {
                status: 404,
                code: "model_not_found",
                message: format!(
                    "the route '{}' is not deployed in {environment}; it is in {} (pick one with x-gantry-environment)",
                    request.model,
                    elsewhere.join(", ")
                ),
                param: Some("x-gantry-environment".to_string()),
            });
        }
        return Ok(None);
    };
    let sticky = session.or_else(|| request.user.clone());
    let resolved = assign_variant(&deployment, sticky.as_deref(), rand::random::<f64>());
    let release =
        cache.release(store, &deployment.route, &environment, resolved.release).await.map_err(internal)?.ok_or_else(
            || GatewayError::Internal(format!("{} release {} is not stored", deployment.route, resolved.release)),
        )?;
    match &release.target {
        ReleaseTarget::Prompt { name, version } => {
            request.model = format!("{PROMPT_MODEL_PREFIX}{name}@{version}");
            if let Some(model) = &release.model {
                let options = request.extra.entry(GANTRY_FIELD).or_insert_with(|| Value::Object(Map::new()));
                if let Some(options) = options.as_object_mut() {
                    // The client's own choice of model wins over the release's.
                    options.entry("model").or_insert_with(|| Value::String(model.clone()));
                }
            }
        }
        ReleaseTarget::Model { model } => request.model = model.clone(),
        ReleaseTarget::Chain { .. } => {
            return Err(GatewayError::InvalidRequest {
                message: format!(
                    "'{}' runs a chain ({}): run it with POST /api/chains/{{name}}/run; chat completions reach prompt and model releases",
                    deployment.route, release.target
                ),
                param: Some("model".to_string()),
            })
        }
    }
    Ok(Some(resolved.usage))
}
