//! `GET /v1/models` and `GET /v1/models/{id}`.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use gantry_core::Principal;
use gantry_types::{ModelList, ModelObject};

/// The configured models the caller's key may use.
pub async fn list(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Json<ModelList> {
    let mut models = state.gateway.list_models();
    models.data.retain(|m| principal.may_use_model(&m.id));
    Json(models)
}

/// One configured model.
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    let found = state.gateway.list_models().data.into_iter().find(|m| m.id == id && principal.may_use_model(&m.id));
    found.map(Json).ok_or_else(|| {
        ApiError::not_found(
            "model_not_found",
            format!("The model '{id}' does not exist or you do not have access to it."),
        )
    })
}
