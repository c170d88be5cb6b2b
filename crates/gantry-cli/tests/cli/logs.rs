//! `--log-format json`: every log line `gantry serve` writes is one JSON object a log
//! pipeline can parse, with the level, the time and the event's fields.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_logs_one_json_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gantry.toml"), "data_dir = \"data\"\n[local]\nenabled = false\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("GANTRY_MODEL_SOURCES", "")
        .env_remove("GANTRY_CONFIG")
        .env_remove("GANTRY_DATA_DIR")
        .env_remove("GANTRY_DATABASE_URL")
        .env_remove("GANTRY_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let serving = event["fields"]["message"].as_str().is_some_and(|m| m.contains("gantry is serving"));
        events.push(event);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let last = events.last().unwrap();
    assert!(last["fields"]["message"].as_str().unwrap().contains("gantry is serving"), "{events:?}");
    for event in &events {
        assert!(["INFO", "WARN", "ERROR", "DEBUG"].contains(&event["level"].as_str().unwrap()), "{event}");
        assert!(chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap()).is_ok(), "{event}");
    }
    // The address it bound is a field of the event, not only words in the message.
    let text = last.to_string();
    assert!(text.contains("127.0.0.1:"), "{text}");
}
