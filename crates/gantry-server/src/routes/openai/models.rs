//! `GET /v1/models` and `GET /v1/models/{id}`.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use gantry_types::{ModelList, ModelObject};

/// The configured models.
pub async fn list(State(state): State<AppState>) -> Json<ModelList> {
    Json(state.gateway.list_models())
}

/// One configured model.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ModelObject>, ApiError> {
    state.gateway.list_models().data.into_iter().find(|m| m.id == id).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "model_not_found",
            format!("The model '{id}' does not exist or you do not have access to it."),
        )
    })
}
