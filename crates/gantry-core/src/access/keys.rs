//! API key secrets (generated from the OS-seeded CSPRNG, stored only as SHA-256) and the key
//! management functions the server and the CLI share.

use super::AccessError;
use base64::Engine;
use chrono::{DateTime, Utc};
use gantry_store::Store;
use gantry_types::{ApiKey, AuditEntry, AuditFilter, CreatedApiKey, KeyRole, NewApiKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every secret starts with this, so scanners and people recognise a Gantry key.
pub const SECRET_PREFIX: &str = "gk-";
/// Random bytes in a secret: 256 bits, 43 url-safe characters.
const SECRET_BYTES: usize = 32;
/// Characters of the secret kept for display: the marker plus 6 random characters (36 bits),
/// enough to tell keys apart and far too few to guess the rest.
const DISPLAY_PREFIX_CHARS: usize = SECRET_PREFIX.len() + 6;
/// The longest key name.
const MAX_NAME_CHARS: usize = 100;

/// A new random secret.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    // ThreadRng is a CSPRNG (ChaCha) seeded and periodically reseeded from the OS.
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The hex SHA-256 of a secret: what the store keeps and looks keys up by.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The part of a secret shown in listings.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(DISPLAY_PREFIX_CHARS).collect()
}

/// Whether `secret` is the one `hash` was made from.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    // Both sides are digests of fixed length; comparing them leaks nothing about the secret.
    hash_secret(secret) == hash
}

fn check(new: &NewApiKey) -> Result<KeyRole, AccessError> {
    let invalid = |message: String, param: &str| AccessError::InvalidInput { message, param: param.to_string() };
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!("name must be 1 to {MAX_NAME_CHARS} characters"), "name"));
    }
    let role = new
        .role
        .ok_or_else(|| invalid("role is required: admin, developer, reviewer, app or viewer".to_string(), "role"))?;
    if new.models.iter().any(|m| m.trim().is_empty()) {
        return Err(invalid("models must not contain empty names".to_string(), "models"));
    }
    if new.rpm == Some(0) {
        return Err(invalid("rpm must be at least 1".to_string(), "rpm"));
    }
    if new.tpm == Some(0) {
        return Err(invalid("tpm must be at least 1".to_string(), "tpm"));
    }
    if let Some(environment) = &new.environment {
        if !gantry_types::is_resource_name(environment) {
            return Err(invalid(
                format!("environment '{environment}' is not a valid name (letters, digits, '-', '_', '.')"),
                "environment",
            ));
        }
    }
    if let Some(budget) = new.budget {
        if !budget.usd.is_finite() || budget.usd <= 0.0 {
            return Err(invalid(format!("budget.usd must be a positive amount, got {}", budget.usd), "budget.usd"));
        }
    }
    Ok(role)
}

/// Creates a key; the secret in the answer is not stored anywhere.
pub async fn create_key(store: &dyn Store, new: NewApiKey, now: DateTime<Utc>) -> Result<CreatedApiKey, AccessError> {
    let role = check(&new)?;
    let secret = generate_secret();
    let key = ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.trim().to_string(),
        role,
        prefix: display_prefix(&secret),
        models: new.models.iter().map(|m| m.trim().to_string()).collect(),
        rpm: new.rpm,
        tpm: new.tpm,
        budget: new.budget,
        environment: new.environment.clone(),
        created_at: now,
        revoked_at: None,
    };
    store.insert_key(&key, &hash_secret(&secret)).await?;
    tracing::info!(key_id = %key.id, role = %key.role, prefix = %key.prefix, "API key created");
    Ok(CreatedApiKey { key, secret })
}

/// Every key, oldest first.
pub async fn list_keys(store: &dyn Store) -> Result<Vec<ApiKey>, AccessError> {
    Ok(store.list_keys().await?)
}

/// Revokes a key; requests with it get 401 from then on.
pub async fn revoke_key(store: &dyn Store, id: &str, now: DateTime<Utc>) -> Result<ApiKey, AccessError> {
    let key = store.revoke_key(id, now).await?.ok_or_else(|| AccessError::KeyNotFound(id.to_string()))?;
    tracing::info!(key_id = %key.id, "API key revoked");
    Ok(key)
}

/// An audit entry for a change by `actor` (a key id, or `local`).
pub fn audit_entry(
    actor: String,
    method: &str,
    path: &str,
    status: u16,
    resource_ids: Vec<String>,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        actor,
        method: method.to_string(),
        path: path.to_string(),
        status,
        resource_ids,
    }
}

/// Appends an audit entry.
pub async fn record_audit(store: &dyn Store, entry: &AuditEntry) -> Result<(), AccessError> {
    Ok(store.insert_audit(entry).await?)
}

/// Audit entries, newest first.
pub async fn list_audit(store: &dyn Store, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AccessError> {
    Ok(store.list_audit(filter).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_url_safe() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("gk-"));
        assert_eq!(a.len(), 3 + 43);
        assert!(a[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
        assert_eq!(display_prefix(&a), a[..9]);
    }

    #[test]
    fn hashing_is_sha256_and_verifies_only_the_same_secret() {
        // echo -n abc | sha256sum
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let secret = generate_secret();
        let hash = hash_secret(&secret);
        assert!(verify_secret(&secret, &hash));
        assert!(!verify_secret(&format!("{secret}x"), &hash));
        assert!(!hash.contains(&secret[3..]));
    }

    #[test]
    fn new_keys_are_checked() {
        let ok = NewApiKey { name: "ci".into(), role: Some(KeyRole::App), ..Default::default() };
        assert_eq!(check(&ok).unwrap(), KeyRole::App);
        let param = |new: NewApiKey| match check(&new) {
            Err(AccessError::InvalidInput { param, .. }) => param,
            other => panic!("{other:?}"),
        };
        assert_eq!(param(NewApiKey { name: " ".into(), ..ok.clone() }), "name");
        assert_eq!(param(NewApiKey { role: None, ..ok.clone() }), "role");
        assert_eq!(param(NewApiKey { rpm: Some(0), ..ok.clone() }), "rpm");
        let budget = Some(gantry_types::Budget { usd: -1.0, period: gantry_types::BudgetPeriod::Day });
        assert_eq!(param(NewApiKey { budget, ..ok }), "budget.usd");
    }
}
