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
