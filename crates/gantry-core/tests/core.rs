//! The crate's one integration test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "core/alerts.rs"]
mod alerts;
#[path = "core/pii_labelled.rs"]
mod pii_labelled;
