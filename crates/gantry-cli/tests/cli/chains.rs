//! `gantry chains` and the README's chain example: push, list, show, label, run, on the
//! embedded engine (tiny models), and on the real SmolLM2/MiniLM when they are pulled.

use super::{gantry, text, tiny_config};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

const GREETING_PROMPT: &str = r#"
name = "greet"
model = "smollm2-135m-instruct"
parameters = { max_tokens = 4, seed = 1 }
[[variables]]
name = "who"
[[messages]]
role = "user"
content = "Say hello to {{ who }}."
"#;

const GREETING_CHAIN: &str = r#"
name = "greeting"
inputs = ["who"]
output = "card"
[[steps]]
name = "hello"
type = "llm"
prompt = "greet@production"
variables = { who = "{{ input.who | upper }}" }
[[steps]]
name = "card"
type = "template"
template = "To {{ input.who }}: {{ hello | length > 0 }}"
"#;

#[test]
fn chains_are_pushed_listed_shown_labelled_and_run() {
    let dir = tempfile::tempdir().unwrap();
    tiny_config(dir.path());
    let prompt = write(dir.path(), "greet.toml", GREETING_PROMPT);
    let chain = write(dir.path(), "greeting.toml", GREETING_CHAIN);
    let out = gantry(dir.path(), &["prompts", "push", prompt.to_str().unwrap(), "--label", "production"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = gantry(dir.path(), &["chains", "push", chain.to_str().unwrap(), "-m", "first", "--author", "ana"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "greeting: created version 1 (2 steps)");
    let out = gantry(dir.path(), &["chains", "push", chain.to_str().unwrap()]);
    assert_eq!(text(&out.stdout).trim(), "greeting: unchanged, still version 1 (no new version created)");

    let list = text(&gantry(dir.path(), &["chains", "list"]).stdout);
    assert_eq!(list.lines().nth(1).unwrap(), "greeting  1       latest=1", "{list}");
    let show = gantry(dir.path(), &["chains", "show", "greeting@1"]);
    let shown = text(&show.stdout);
    assert!(shown.starts_with("greeting@1  by ana") && shown.contains("message: first"), "{shown}");
    assert!(shown.contains("hello  llm") && shown.contains("output: card"), "{shown}");
    let out = gantry(dir.path(), &["chains", "label", "greeting", "1", "production"]);
    assert_eq!(text(&out.stdout).trim(), "greeting: label production -> 1");

    let run = gantry(dir.path(), &["chains", "run", "greeting@production", "--input", r#"{"who": "Ada"}"#]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout).trim(), "To Ada: True");
    let stderr = text(&run.stderr);
    assert!(stderr.contains("hello") && stderr.contains("llm") && stderr.contains("card"), "{stderr}");
    let trace = stderr.lines().find_map(|l| l.strip_prefix("trace: ")).unwrap().trim().to_string();
    let shown = gantry(dir.path(), &["traces", "show", &trace]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains("chain:greeting@1"), "{}", text(&shown.stdout));

    let json = gantry(dir.path(), &["chains", "run", "greeting", "--input", r#"{"who": "Bo"}"#, "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(run["output"], "To Bo: True");
    assert_eq!(run["steps"].as_array().unwrap().len(), 2);

    for (args, expected) in [
        (vec!["chains", "run", "greeting", "--input", "{}"], "needs the input field(s) who"),
        (vec!["chains", "run", "greeting", "--input", "not json"], "--input must be JSON"),
        (vec!["chains", "run", "missing"], "no chain named 'missing'"),
        (vec!["chains", "show", "greeting@7"], "has no version 7"),
    ] {
        let out = gantry(dir.path(), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
    }
    let broken = write(dir.path(), "broken.toml", &GREETING_CHAIN.replace("{{ hello |", "{{ helo |"));
    let out = gantry(dir.path(), &["chains", "push", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("'helo' is neither 'input' nor a step"), "{}", text(&out.stderr));
}

/// The README's example, run as written on the real embedded models.
#[test]
fn the_handbook_example_answers_from_the_right_document() {
    let Some(models) = std::env::var_os("GANTRY_TEST_MODELS_DIR").map(|d| PathBuf::from(d).join("models")) else {
        eprintln!(
            "skipping: GANTRY_TEST_MODELS_DIR is not set (run `gantry models pull` and point it at the data dir)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".gantry")).unwrap();
    std::os::unix::fs::symlink(&models, dir.path().join(".gantry/models")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    for sub in ["handbook", "prompts", "chains"] {
        std::os::unix::fs::symlink(repo.join("examples").join(sub), dir.path().join("examples").join(sub)).unwrap();
    }
    for args in [
        vec!["rag", "ingest", "handbook", "examples/handbook"],
        vec!["prompts", "push", "examples/prompts/handbook-answer.toml", "--label", "production"],
        vec!["chains", "push", "examples/chains/handbook-qa.toml"],
    ] {
        let out = gantry(dir.path(), &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let ask = |question: &str| {
        let input = serde_json::json!({ "question": question }).to_string();
        let out = gantry(dir.path(), &["chains", "run", "handbook-qa", "--input", &input, "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let run = ask("How long do I have to return an item?");
    let reply = run["output"].as_str().unwrap();
    assert!(reply.contains("30 days"), "{reply}");
    assert!(reply.contains("(sources: examples/handbook/returns.md"), "the best chunk comes first: {reply}");
    let run = ask("What does express shipping cost?");
    let reply = run["output"].as_str().unwrap();
    assert!(reply.contains("12.50"), "{reply}");
    assert!(reply.contains("(sources: examples/handbook/shipping.md"), "{reply}");
}
