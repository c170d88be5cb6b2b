//! `gantry eval` as a CI pipeline runs it: a suite over a dataset on the embedded engine (a
//! tiny generated model), the gate's exit code, the JUnit report, then list, show and
//! compare reading the stored runs.

use super::{gantry, text, tiny_config};
use std::path::Path;

const ITEMS: &str = r#"{"input": [{"role": "user", "content": "Say hello"}], "expected": "hello"}
{"input": [{"role": "user", "content": "Count to three"}], "expected": "one two three"}
{"input": [{"role": "user", "content": "Name a colour"}], "expected": "blue"}
"#;

fn suite(dir: &Path, name: &str, never_threshold: f64) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "smoke"
dataset = "greetings"
concurrency = 2
[target]
model = "smollm2-135m-instruct"
max_tokens = 6
seed = 3
[[evaluators]]
name = "answered"
type = "regex"
pattern = '(?s).*'
threshold = 1.0
[[evaluators]]
name = "never"
type = "contains"
value = "ZZZ-not-in-any-answer"
threshold = {never_threshold}
[[evaluators]]
name = "bleu"
type = "bleu"
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_suite_runs_gates_the_exit_code_and_its_runs_can_be_listed_shown_and_compared() {
    let dir = tempfile::tempdir().unwrap();
    tiny_config(dir.path());
    std::fs::write(dir.path().join("items.jsonl"), ITEMS).unwrap();
    let import = gantry(dir.path(), &["datasets", "import", "greetings", "items.jsonl"]);
    assert!(import.status.success(), "{}", text(&import.stderr));

    let passing = suite(dir.path(), "passing", 0.0);
    let out = gantry(dir.path(), &["eval", "run", &passing, "--junit", "junit.xml"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}\nstdout: {stdout}", text(&out.stderr));
    let first_id = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("eval run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in: {stdout}"))
        .to_string();
    assert!(stdout.contains("model:smollm2-135m-instruct on greetings@1 (3 items, 0 failed)"), "{stdout}");
    assert!(stdout.contains("gate: passed (2 check(s))"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("answered") && l.contains("1.0000")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("bleu") && l.contains("corpus_bleu")), "{stdout}");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite name=\"smoke\" tests=\"2\" failures=\"0\""), "{junit}");

    // The same suite demanding what no answer contains fails the gate: exit 2, the failing
    // metric printed, a failed JUnit test case, and the first run as the baseline.
    let failing = suite(dir.path(), "failing", 0.5);
    let out = gantry(dir.path(), &["eval", "run", &failing, "--junit", "junit.xml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "stderr: {}\nstdout: {stdout}", text(&out.stderr));
    assert!(stdout.contains("gate: FAILED (1 of 2 check(s))"), "{stdout}");
    assert!(stdout.contains("never.mean: 0.0000 is below the threshold 0.5"), "{stdout}");
    assert!(stdout.contains(&format!("baseline: run {first_id}")), "{stdout}");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"1\"") && junit.contains("<failure message=\"0.0000 is below"), "{junit}");
    let second_id = stdout.lines().next().unwrap().split_whitespace().nth(2).unwrap().to_string();

    let list = gantry(dir.path(), &["eval", "list"]);
    let table = text(&list.stdout);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with(&second_id) && rows[0].contains("FAILED"), "{table}");
    assert!(rows[1].starts_with(&first_id) && rows[1].contains("passed"), "{table}");

    let show = gantry(dir.path(), &["eval", "show", &first_id, "--items"]);
    let shown = text(&show.stdout);
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert!(shown.contains("ITEM") && shown.lines().filter(|l| l.starts_with(['0', '1', '2'])).count() >= 3, "{shown}");

    let compare = gantry(dir.path(), &["eval", "compare", &first_id, &second_id]);
    let compared = text(&compare.stdout);
    assert!(compare.status.success(), "{}", text(&compare.stderr));
    // Same model, seed and items: every score is unchanged.
    assert!(compared.lines().any(|l| l.starts_with("never") && l.contains("+0 -0 =3")), "{compared}");

    let missing = gantry(dir.path(), &["eval", "show", "no-such-run"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no eval run with id 'no-such-run'"), "{}", text(&missing.stderr));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\ndataset = \"greetings\"\n[target]\nmodel = \"m\"\n").unwrap();
    let refused = gantry(dir.path(), &["eval", "run", &bad.display().to_string()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("evaluators"), "{}", text(&refused.stderr));
}
