//! Deployments as the gateway reads them on every request to a name that is not a configured
//! model: kept in memory and re-read from the store at most every two seconds, so a
//! promotion made by another replica (or the CLI) takes effect within that time, and one
//! made through this process at once. Releases never change, so they are kept for good.

use gantry_store::{Store, StoreError};
use gantry_types::{Deployment, Release};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How stale the deployments may be.
const REFRESH: Duration = Duration::from_secs(2);

type DeploymentMap = Arc<HashMap<(String, String), Deployment>>;

/// The deployments and releases read so far.
#[derive(Default)]
pub struct DeploymentCache {
    deployments: RwLock<Option<(Instant, DeploymentMap)>>,
    releases: RwLock<HashMap<(String, String, u32), Release>>,
}

impl DeploymentCache {
    async fn map(&self, store: &dyn Store) -> Result<DeploymentMap, StoreError> {
        if let Ok(guard) = self.deployments.read() {
            if let Some((read_at, map)) = guard.as_ref() {
                if read_at.elapsed() < REFRESH {
                    return Ok(map.clone());
                }
            }
        }
        let fresh: HashMap<(String, String), Deployment> = store
            .list_deployments()
            .await?
            .into_iter()
            .map(|d| ((d.route.clone(), d.environment.clone()), d))
            .collect();
        let fresh = Arc::new(fresh);
        if let Ok(mut guard) = self.deployments.write() {
            *guard = Some((Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }

    /// What `route` runs in `environment`, if it is deployed there.
    pub async fn deployment(
        &self,
        store: &dyn Store,
        route: &str,
        environment: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        Ok(self.map(store).await?.get(&(route.to_string(), environment.to_string())).cloned())
    }

    /// The environments `route` is deployed in, sorted.
    pub async fn environments_of(&self, store: &dyn Store, route: &str) -> Result<Vec<String>, StoreError> {
        let mut found: Vec<String> =
            self.map(store).await?.keys().filter(|(r, _)| r == route).map(|(_, e)| e.clone()).collect();
        found.sort();
        Ok(found)
    }

    /// One release.
    pub async fn release(
        &self,
        store: &dyn Store,
        route: &str,
        environment: &str,
        number: u32,
    ) -> Result<Option<Release>, StoreError> {
        let key = (route.to_string(), environment.to_string(), number);
        if let Some(release) = self.releases.read().ok().and_then(|r| r.get(&key).cloned()) {
            return Ok(Some(release));
        }
        let release = store.get_release(route, environment, number).await?;
        if let (Some(release), Ok(mut cache)) = (&release, self.releases.write()) {
            cache.insert(key, release.clone());
        }
        Ok(release)
    }

    /// Forgets the deployments, so the next request reads them again (after a change).
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.deployments.write() {
            *guard = None;
        }
    }
}
