//! `gantry deploy` as a pipeline runs it, on the embedded engine (a tiny generated model):
//! promote v1 behind a gate, refuse a candidate that fails it (exit 2, recorded), canary v2,
//! promote it fully, roll back in one step, and read status and history.

use super::{gantry, text, tiny_config};
use std::path::Path;

const ITEMS: &str = r#"{"input": {"topic": "tea"}, "expected": "tea"}
{"input": {"topic": "rain"}, "expected": "rain"}
"#;

fn prompt(dir: &Path, system: &str) {
    std::fs::write(
        dir.join("greet.toml"),
        format!(
            "name = \"greet\"\nmodel = \"smollm2-135m-instruct\"\n[parameters]\nmax_tokens = 4\nseed = 1\n\
             [[variables]]\nname = \"topic\"\n[[messages]]\nrole = \"system\"\ncontent = \"{system}\"\n\
             [[messages]]\nrole = \"user\"\ncontent = \"{{{{ topic }}}}\"\n"
        ),
    )
    .unwrap();
    let out = gantry(dir, &["prompts", "push", "greet.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A gate that always passes (`answered`) and one that no tiny-model answer can pass.
fn suite(dir: &Path, name: &str, impossible: bool) -> String {
    let path = dir.join(format!("{name}.toml"));
    let threshold = if impossible { 0.5 } else { 0.0 };
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\ndataset = \"topics\"\n[target]\nprompt = \"greet\"\n\
             [[evaluators]]\nname = \"answered\"\ntype = \"regex\"\npattern = '(?s).*'\nthreshold = 1.0\n\
             [[evaluators]]\nname = \"magic\"\ntype = \"contains\"\nvalue = \"ZZZ-no-answer-has-this\"\nthreshold = {threshold}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = gantry(dir, args);
    assert!(out.status.success(), "gantry {args:?}: {}\n{}", text(&out.stderr), text(&out.stdout));
    text(&out.stdout)
}

#[test]
fn promote_behind_a_gate_canary_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_config(d);
    std::fs::write(d.join("items.jsonl"), ITEMS).unwrap();
    ok(d, &["datasets", "import", "topics", "items.jsonl"]);
    prompt(d, "Be brief.");
    prompt(d, "Be very brief.");

    let gate = suite(d, "greet-gate", false);
    let out = ok(d, &["deploy", "promote", "greet-bot", "--target", "prompt:greet@1", "--gate", &gate]);
    assert!(out.contains("greet-bot in production: release 1 (prompt:greet@1) by ci-bot"), "{out}");
    assert!(out.contains("gate: suite 'greet-gate' passed"), "{out}");

    // A candidate that fails the gate is refused with exit 2 and nothing changes.
    let strict = suite(d, "strict-gate", true);
    let refused = gantry(d, &["deploy", "promote", "greet-bot", "--target", "prompt:greet@2", "--gate", &strict]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("gate refused prompt:greet@2") && stderr.contains("magic.mean"), "{stderr}");

    let out = ok(d, &["deploy", "promote", "greet-bot", "--target", "prompt:greet@2", "--canary", "20"]);
    assert!(out.contains("canary: 20% of the traffic; release 1 keeps the rest"), "{out}");
    let status = ok(d, &["deploy", "status"]);
    let row = status.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("greet-bot") && row.contains("#1 prompt:greet@1") && row.contains("20% #2 prompt:greet@2"),
        "{status}"
    );
    assert!(row.contains("greet-gate passed"), "{status}");

    let out = ok(d, &["deploy", "promote", "greet-bot", "--full"]);
    assert_eq!(out, "greet-bot in production now runs release 2 for all traffic\n");
    let out = ok(d, &["deploy", "rollback", "greet-bot"]);
    assert_eq!(out, "rolled back: greet-bot in production now runs release 1\n");

    let history = ok(d, &["deploy", "history", "greet-bot"]);
    let actions: Vec<&str> = history.lines().skip(1).map(|l| l.split_whitespace().nth(3).unwrap_or_default()).collect();
    assert_eq!(actions, ["rollback", "promote_full", "canary", "gate_refused", "promote"], "{history}");
    assert!(history.contains("magic.mean"), "the refusal says why: {history}");
}
