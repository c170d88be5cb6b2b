//! Typed identifiers. Every record gets a UUIDv7, so IDs sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The identifier of one recorded call (a trace); returned as `x-gantry-trace-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TraceId(pub Uuid);

impl TraceId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for TraceId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TraceId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Whether `name` can name a collection, a dataset or a review queue: 1 to 64 ASCII letters,
/// digits, `-`, `_` or `.`, starting with a letter or digit, so that it is safe in URL paths
/// and `NAME@VERSION` references.
pub fn is_resource_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_ordered() {
        let a = TraceId::new();
        let b = TraceId::new();
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<TraceId>().unwrap(), a);
    }

    #[test]
    fn resource_names_are_url_safe() {
        assert!(is_resource_name("support-v2.eval_set"));
        for bad in ["", "-lead", "has space", "slash/in", "ü", &"x".repeat(65)] {
            assert!(!is_resource_name(bad), "{bad:?}");
        }
    }
}
