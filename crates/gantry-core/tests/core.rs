//! The crate's one integration test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "core/pii_labelled.rs"]
mod pii_labelled;
#[path = "core/alerts.rs"]
mod alerts;
