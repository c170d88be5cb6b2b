//! The prompt-injection examples users add to the similarity corpus.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::InjectionExample;

/// Known attacks beyond the built-in seed corpus.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// Stores an example and returns it with its id.
    async fn add_injection_example(&self, text: &str, category: &str) -> Result<InjectionExample, StoreError>;
    /// Every stored example, oldest first.
    async fn list_injection_examples(&self) -> Result<Vec<InjectionExample>, StoreError>;
    /// Removes an example; false when there was none with that id.
    async fn delete_injection_example(&self, id: i64) -> Result<bool, StoreError>;
}
