//! `gantry deploy` as a pipeline runs it, on the embedded engine (a tiny generated model):
//! promote v1 behind a gate, refuse a candidate that fails it (exit 2, recorded), canary v2,
//! promote it fully, roll back in one step, and read status and history.

use super::{gantry, succeeds as ok, text, tiny_config};
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

/// A data directory on the tiny model with the `topics` dataset and version 1 of `greet`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_config(d);
    std::fs::write(d.join("items.jsonl"), ITEMS).unwrap();
    ok(d, &["datasets", "import", "topics", "items.jsonl"]);
    prompt(d, "Be brief.");
    dir
}

#[test]
fn promote_behind_a_gate_canary_and_roll_back() {
    let dir = project();
    let d = dir.path();
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

/// A guarded canary, an adaptive experiment started and stopped with a winner, and the
/// comparison of a route that has had no traffic yet.
#[test]
fn guarded_canary_experiment_and_compare() {
    let dir = project();
    let d = dir.path();
    prompt(d, "Be very brief.");
    ok(d, &["deploy", "promote", "greet-bot", "--target", "prompt:greet@1"]);
    let bad = gantry(
        d,
        &["deploy", "promote", "greet-bot", "--target", "prompt:greet@2", "--canary", "20", "--min-score", "x"],
    );
    assert!(!bad.status.success() && text(&bad.stderr).contains("NAME=VALUE"), "{}", text(&bad.stderr));
    let args = ["--canary", "20", "--max-error-rate", "0.05", "--min-score", "thumbs=0.7", "--min-requests", "50"];
    let out = ok(d, &[&["deploy", "promote", "greet-bot", "--target", "prompt:greet@2"][..], &args[..]].concat());
    assert!(out.contains("canary: 20% of the traffic"), "{out}");
    let json = ok(d, &["deploy", "status", "greet-bot", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        status[0]["canary"]["guard"],
        serde_json::json!({"max_error_rate": 0.05, "min_score": {"name": "thumbs", "min": 0.7}, "min_requests": 50})
    );
    let table = ok(d, &["deploy", "status", "greet-bot"]);
    assert!(table.contains("20% #2 prompt:greet@2 (stops: errors > 5%, thumbs < 0.7, after 50)"), "{table}");
    let compare = ok(d, &["deploy", "compare", "greet-bot"]);
    assert!(compare.contains("baseline none (no traffic yet)"), "{compare}");
    // An experiment waits for the canary to end.
    let variants = ["--variant", "control=current", "--variant", "terse:3=release:2"];
    let busy = gantry(d, &[&["deploy", "experiment", "greet-bot"][..], &variants[..]].concat());
    assert!(text(&busy.stderr).contains("has a canary running"), "{}", text(&busy.stderr));
    ok(d, &["deploy", "abort", "greet-bot", "--reason", "trying an experiment instead"]);

    let out = ok(d, &[&["deploy", "experiment", "greet-bot", "--adaptive", "thumbs"][..], &variants[..]].concat());
    assert_eq!(out, "greet-bot in production: experiment started: control 25% #1, terse 75% #2 (adaptive on thumbs)\n");
    let status = ok(d, &["deploy", "status"]);
    assert!(status.contains("control 25% #1, terse 75% #2 (adaptive on thumbs)"), "{status}");
    let out = ok(d, &["deploy", "experiment-stop", "greet-bot", "--winner", "terse"]);
    assert_eq!(out, "experiment stopped: greet-bot in production runs release 2\n");
    let history = ok(d, &["deploy", "history", "greet-bot"]);
    let actions: Vec<&str> = history.lines().skip(1).map(|l| l.split_whitespace().nth(3).unwrap_or_default()).collect();
    assert_eq!(actions, ["stop_experiment", "experiment", "abort_canary", "canary", "promote"], "{history}");
}

/// `examples/ci/deploy.sh`, as both example pipelines call it: a pull request gates the
/// prompt into staging, the merge gates the same version into production; a change the gate
/// refuses stops the pipeline with exit 2.
#[test]
fn the_example_pipeline_gates_staging_then_production() {
    let dir = project();
    let d = dir.path();
    let gate = suite(d, "greet-gate", false);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci/deploy.sh");
    let run = |environment: &str, gate: &str| {
        std::process::Command::new("bash")
            .arg(&script)
            .current_dir(d)
            .env("GANTRY", env!("CARGO_BIN_EXE_gantry"))
            .env("GANTRY_MODEL_SOURCES", "")
            .env("GANTRY_AUTHOR", "ci-bot")
            .env("COMMIT_MESSAGE", "support: shorter")
            .env("ROUTE", "greet-bot")
            .env("PROMPT_FILE", "greet.toml")
            .env("GATE", gate)
            .env("ENVIRONMENT", environment)
            .env_remove("GANTRY_CONFIG")
            .env_remove("GANTRY_DATA_DIR")
            .env_remove("GANTRY_DATABASE_URL")
            .output()
            .unwrap()
    };
    let staging = run("staging", &gate);
    let stdout = text(&staging.stdout);
    assert!(staging.status.success(), "{}\n{stdout}", text(&staging.stderr));
    assert!(stdout.contains("greet: unchanged, still version 1"), "the file was pushed before: {stdout}");
    assert!(stdout.contains("greet-bot in staging: release 1 (prompt:greet@1)"), "{stdout}");
    let production = run("production", &gate);
    assert!(production.status.success(), "{}", text(&production.stderr));
    let status = ok(d, &["deploy", "status", "greet-bot"]);
    assert_eq!(status.lines().count(), 3, "staging and production: {status}");

    // A new prompt version that fails a stricter gate does not reach production.
    std::fs::write(
        d.join("greet.toml"),
        std::fs::read_to_string(d.join("greet.toml")).unwrap().replace("Be brief.", "Be terse."),
    )
    .unwrap();
    let strict = suite(d, "strict-gate", true);
    let refused = run("production", &strict);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stdout).contains("greet: created version 2"));
    let status = ok(d, &["deploy", "status", "greet-bot"]);
    assert!(status.lines().any(|l| l.contains("production") && l.contains("prompt:greet@1")), "{status}");
}
