//! `gantry alerts`, `alerts test` and `alerts history` on the local store, against a local
//! webhook receiver that refuses the first delivery.

use super::{refused, succeeds as ok};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// Answers `answers.len()` HTTP requests with those statuses in turn, one connection each;
/// returns its URL and the bodies it read.
fn receiver(answers: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for status in answers {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            bodies.push(String::from_utf8(body).unwrap());
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            reader.get_mut().write_all(answer.as_bytes()).unwrap();
        }
        bodies
    });
    (url, handle)
}

fn config(hook: &str, dead: &str) -> String {
    format!(
        r#"
data_dir = "data"
[local]
enabled = false

[alerting]
backoff_base_ms = 5
retries = 1
[alerting.webhooks.ops]
url = "{hook}"
format = "slack"
[alerting.webhooks.gone]
url = "{dead}"

[[alerts]]
name = "errors"
metric = "error_rate"
op = ">"
threshold = 0.05
for = "2m"
severity = "critical"
webhooks = ["ops"]

[[alerts]]
name = "spend"
metric = "cost_usd"
op = ">="
threshold = 10
window = "1h"
route = "support-bot"
webhooks = ["gone"]
"#
    )
}

#[test]
fn alerts_are_listed_tested_and_their_history_shows_each_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = receiver(vec![500, 200]);
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    std::fs::write(dir.path().join("gantry.toml"), config(&hook, &dead)).unwrap();

    let table = ok(dir.path(), &["alerts"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("RULE"), "{table}");
    assert!(lines[1].starts_with("errors  inactive  error_rate > 0.05  5m"), "{table}");
    assert!(lines[2].contains("route=support-bot"), "{table}");

    assert_eq!(ok(dir.path(), &["alerts", "test", "errors"]), "ops: delivered\n");
    let bodies = received.join().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the retry sends the same body");
    let body: Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(body["text"], "[TEST] errors (critical): error_rate = no data (threshold > 0.05, window 5m)", "{body}");

    let stderr = refused(dir.path(), &["alerts", "test", "spend"]);
    assert!(stderr.contains("1 of 1 webhooks did not take the test notification"), "{stderr}");
    let stderr = refused(dir.path(), &["alerts", "test", "nope"]);
    assert!(stderr.contains("no alert rule named 'nope' is configured"), "{stderr}");

    let history: Value = serde_json::from_str(&ok(dir.path(), &["alerts", "history", "--json"])).unwrap();
    let events = history.as_array().unwrap();
    assert_eq!(events.len(), 2, "{history}");
    let attempts = |event: &Value| -> Vec<(String, Value, String)> {
        event["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (d["webhook"].as_str().unwrap().into(), d["status"].clone(), d["outcome"].as_str().unwrap().into())
            })
            .collect()
    };
    assert_eq!(events[0]["rule"], "spend");
    assert_eq!(
        attempts(&events[0]),
        vec![("gone".into(), Value::Null, "retrying".into()), ("gone".into(), Value::Null, "failed".into())]
    );
    assert_eq!(events[1]["rule"], "errors");
    assert_eq!(
        attempts(&events[1]),
        vec![("ops".into(), 500.into(), "retrying".into()), ("ops".into(), 200.into(), "delivered".into())]
    );
    let table = ok(dir.path(), &["alerts", "history", "--rule", "errors"]);
    assert!(table.contains("ops#1 retrying (500), ops#2 delivered (200)"), "{table}");
}
