//! `gantry keys` and `gantry audit` on the local store, and `gantry serve` refusing a public
//! address while no key exists.

use super::{gantry, refused as fails, succeeds as ok, text};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn setup(d: &Path) {
    std::fs::write(d.join("gantry.toml"), "data_dir = \"data\"\n[local]\nenabled = false\n").unwrap();
}

#[test]
fn keys_are_created_listed_revoked_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let out = gantry(
        d,
        &["keys", "create", "--name", "shop", "--role", "app", "--models", "gpt,mini", "--rpm", "60", "--tpm", "10000"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_string();
    assert!(secret.starts_with("gk-") && secret.len() == 46, "only the secret is on stdout: {secret}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("'shop' (app) created") && stderr.contains("shown only this once"), "{stderr}");
    let budget = ok(
        d,
        &["keys", "create", "--name", "ops", "--role", "admin", "--budget-usd", "2.5", "--budget-period", "month"],
    );

    let list = ok(d, &["keys", "list"]);
    assert!(!list.contains(&secret) && !list.contains(budget.trim()), "no secret is listed: {list}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("ROLE") && lines[0].contains("BUDGET"), "{list}");
    assert!(lines[1].contains("shop") && lines[1].contains("gpt,mini") && lines[1].contains(&secret[..9]), "{list}");
    assert!(lines[2].contains("ops") && lines[2].contains("$2.5/month"), "{list}");

    let json = ok(d, &["keys", "list", "--json"]);
    let keys: Vec<Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["name"], "shop");
    assert_eq!(keys[0]["role"], "app");
    assert_eq!(keys[0]["models"], serde_json::json!(["gpt", "mini"]));
    assert_eq!((keys[0]["rpm"].as_u64(), keys[0]["tpm"].as_u64()), (Some(60), Some(10000)));
    assert_eq!(keys[1]["budget"], serde_json::json!({"usd": 2.5, "period": "month"}));
    assert!(keys[0]["revoked_at"].is_null());
    let id = keys[0]["id"].as_str().unwrap().to_string();

    let out = ok(d, &["keys", "revoke", &id]);
    assert_eq!(out, format!("key {id} 'shop' revoked\n"));
    let json = ok(d, &["keys", "list", "--json"]);
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(first["revoked_at"].is_string(), "{first}");
    assert!(fails(d, &["keys", "revoke", "nope"]).contains("no API key with id 'nope'"));
    assert!(fails(d, &["keys", "create", "--name", "x", "--role", "root"]).contains("invalid value 'root'"));
    assert!(
        fails(d, &["keys", "create", "--name", "x", "--role", "app", "--rpm", "0"]).contains("rpm must be at least 1")
    );
    assert!(
        fails(d, &["keys", "create", "--name", "x", "--role", "app", "--budget-usd", "1"]).contains("--budget-period")
    );

    let audit = ok(d, &["audit", "--json"]);
    let entries: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let paths: Vec<&str> = entries.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["gantry keys revoke", "gantry keys create", "gantry keys create"]);
    assert!(entries.iter().all(|e| e["actor"] == "local"), "{audit}");
    assert_eq!(entries[0]["resource_ids"], serde_json::json!([format!("id={id}")]));
    let table = ok(d, &["audit", "--limit", "1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("TIME (UTC)") && lines[1].contains("local") && lines[1].contains(&id), "{table}");
}

#[test]
fn serve_refuses_a_public_address_without_keys_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let stderr = fails(d, &["serve", "--listen", "0.0.0.0:0"]);
    assert!(stderr.contains("refusing to serve on 0.0.0.0 without API keys"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");

    // With --insecure, or once a key exists, it starts.
    for args in [vec!["serve", "--listen", "0.0.0.0:0", "--insecure"], vec!["serve", "--listen", "0.0.0.0:0"]] {
        if args.len() == 3 {
            ok(d, &["keys", "create", "--name", "admin", "--role", "admin"]);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(&args)
            .current_dir(d)
            .env("GANTRY_MODEL_SOURCES", "")
            .env_remove("GANTRY_CONFIG")
            .env_remove("GANTRY_DATA_DIR")
            .env_remove("GANTRY_DATABASE_URL")
            .env_remove("GANTRY_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = String::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            log.push_str(&line);
            log.push('\n');
            if line.contains("gantry is serving") {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(log.contains("gantry is serving"), "{args:?}: {log}");
        if args.len() == 4 {
            assert!(log.contains("--insecure: every client is served without authentication"), "{log}");
        }
    }
}
