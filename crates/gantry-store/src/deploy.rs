//! Persistence for releases, deployments and their history.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{ArmTotals, Deployment, DeploymentEvent, Release, ReleaseGate, ReleaseTarget};

/// A release to store; the store gives it the next number of its route and environment.
#[derive(Debug, Clone)]
pub struct NewRelease<'a> {
    pub route: &'a str,
    pub environment: &'a str,
    pub target: &'a ReleaseTarget,
    pub model: Option<&'a str>,
    pub promoted_by: &'a str,
    pub gate: Option<&'a ReleaseGate>,
    pub note: Option<&'a str>,
}

/// Releases, deployments and deployment history.
#[async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Stores `new` as the next release of its route and environment.
    async fn create_release(&self, new: NewRelease<'_>) -> Result<Release, StoreError>;
    /// One release.
    async fn get_release(&self, route: &str, environment: &str, number: u32) -> Result<Option<Release>, StoreError>;
    /// A route's releases in an environment, oldest first.
    async fn list_releases(&self, route: &str, environment: &str) -> Result<Vec<Release>, StoreError>;
    /// What a route runs in an environment.
    async fn get_deployment(&self, route: &str, environment: &str) -> Result<Option<Deployment>, StoreError>;
    /// Every deployment, by route and environment.
    async fn list_deployments(&self) -> Result<Vec<Deployment>, StoreError>;
    /// Replaces what a route runs with `next` and records `event`, in one transaction, only if
    /// the deployment is still `expected` (`None`: none yet); `Ok(false)` when another change
    /// came first, and nothing is written.
    async fn replace_deployment(
        &self,
        expected: Option<&Deployment>,
        next: &Deployment,
        event: &DeploymentEvent,
    ) -> Result<bool, StoreError>;
    /// Records an event that changed nothing (a promotion the gate refused).
    async fn record_deployment_event(&self, event: &DeploymentEvent) -> Result<(), StoreError>;
    /// History, newest first, of one route (and environment) or of all.
    async fn deployment_history(
        &self,
        route: Option<&str>,
        environment: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeploymentEvent>, StoreError>;
    /// What each arm (release and variant) of a route did since `since` in an environment:
    /// requests, errors, latency and cost sums, and numeric feedback by name.
    async fn arm_totals(
        &self,
        route: &str,
        environment: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ArmTotals>, StoreError>;
}
