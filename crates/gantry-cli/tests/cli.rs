#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `gantry` binary as a user runs it: chat on the embedded engine (tiny generated
//! models), traces read back, and clear failures with a non-zero exit.

use std::path::Path;
use std::process::{Command, Output};

/// A gantry server on 127.0.0.1:0 in a runtime of its own, for commands run with `--url`.
struct BackgroundServer {
    url: String,
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    service: gantry_core::Service,
}

impl BackgroundServer {
    /// Serves `toml` with its data in `data_dir`.
    fn start(toml: &str, data_dir: &Path) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (url, stop, server, service) = runtime.block_on(async {
            let raw = gantry_core::config::parse(toml).unwrap();
            let overrides = gantry_core::Overrides { data_dir: Some(data_dir.to_path_buf()), ..Default::default() };
            let config = gantry_core::config::validate(raw, overrides).unwrap();
            let service = gantry_core::Service::start(&config, gantry_core::Progress::Quiet).await.unwrap();
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let state = gantry_server::AppState::from_service(&service);
            let server = tokio::spawn(gantry_server::serve(listener, state, async move {
                let _ = stopped.await;
            }));
            (url, stop, server, service)
        });
        BackgroundServer { url, runtime, stop, server, service }
    }

    /// Stops serving and drains the trace writer.
    fn stop(self) {
        let _ = self.stop.send(());
        self.runtime.block_on(async {
            self.server.await.unwrap().unwrap();
            self.service.shutdown().await;
        });
    }
}

/// Runs `gantry ARGS` in `dir`, away from the caller's config, data and models.
fn gantry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .current_dir(dir)
        .env("GANTRY_MODEL_SOURCES", "")
        .env("GANTRY_AUTHOR", "ci-bot")
        .env_remove("GANTRY_CONFIG")
        .env_remove("GANTRY_DATA_DIR")
        .env_remove("GANTRY_DATABASE_URL")
        .output()
        .unwrap()
}

/// Runs `gantry ARGS`, checks it succeeded and returns its stdout.
fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = gantry(dir, args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "gantry {args:?} failed:\n{}\n{stdout}", text(&out.stderr));
    stdout
}

/// Runs `gantry ARGS`, checks it failed and returns its stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = gantry(dir, args);
    assert!(!out.status.success(), "gantry {args:?} should fail: {}", text(&out.stdout));
    text(&out.stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tiny_config(dir: &Path) -> std::path::PathBuf {
    let gguf = dir.join("tiny.gguf");
    let bert = dir.join("tiny-bert");
    gantry_local::testing::write_tiny_llama_gguf(&gguf).unwrap();
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    let config = dir.join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[local]\nchat_model = \"{}\"\nembedding_model = \"{}\"\n",
            dir.join("data").display(),
            gguf.display(),
            bert.display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn chat_then_traces_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    tiny_config(dir.path());
    let out = gantry(dir.path(), &["chat", "Hello there", "--max-tokens", "8", "--seed", "7"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let trace_id = stderr
        .lines()
        .find_map(|l| l.strip_prefix("trace: "))
        .unwrap_or_else(|| panic!("no trace id in: {stderr}"))
        .trim()
        .to_string();
    assert!(stderr.contains("completion tokens]"), "{stderr}");
    assert!(!text(&out.stdout).trim().is_empty(), "the answer is printed");

    let list = gantry(dir.path(), &["traces", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let table = text(&list.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID"), "{table}");
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[1].starts_with(&trace_id) && lines[1].contains("smollm2-135m-instruct") && lines[1].contains(" ok "),
        "{table}"
    );

    let show = gantry(dir.path(), &["traces", "show", &trace_id]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let record = text(&show.stdout);
    assert!(record.contains(&format!("id:            {trace_id}")), "{record}");
    assert!(record.contains("user: Hello there"), "{record}");
    assert!(record.contains("kind:          chat (stream)"), "{record}");

    let missing = gantry(dir.path(), &["traces", "show", "not-an-id"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("not a trace id"), "{}", text(&missing.stderr));
}

#[test]
fn invalid_config_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gantry.toml"),
        "[server]\nlisten = \"nope\"\n[local]\nthreads = 0\n[[models]]\nname = \"m\"\ntargets = [{ provider = \"ghost\", model = \"x\" }]\n",
    )
    .unwrap();
    let out = gantry(dir.path(), &["serve"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("gantry.toml"), "names the file: {stderr}");
    for needle in ["'nope'", "local.threads", "'ghost'"] {
        assert!(stderr.contains(needle), "missing {needle}: {stderr}");
    }
}

#[test]
fn unusable_data_dir_and_corrupt_model_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let out = gantry(dir.path(), &["chat", "hi", "--data-dir", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("plain-file"), "{}", text(&out.stderr));

    let bad = dir.path().join("broken.gguf");
    std::fs::write(&bad, b"this is not a model").unwrap();
    std::fs::write(dir.path().join("gantry.toml"), format!("[local]\nchat_model = \"{}\"\n", bad.display())).unwrap();
    let out = gantry(dir.path(), &["chat", "hi", "--data-dir", dir.path().join("d").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("broken.gguf"), "{}", text(&out.stderr));
}

#[test]
fn rag_ingest_query_list_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    tiny_config(dir.path());
    std::fs::create_dir_all(dir.path().join("kb/sub")).unwrap();
    std::fs::write(dir.path().join("kb/cat.md"), "the cat sat on the mat.").unwrap();
    std::fs::write(dir.path().join("kb/sub/market.txt"), "the stock market fell today.").unwrap();
    std::fs::write(dir.path().join("kb/ignored.json"), "{}").unwrap();

    let out = gantry(dir.path(), &["rag", "ingest", "notes", "kb", "--chunk-size", "200", "--chunk-overlap", "20"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("collection 'notes' (created): 2 added, 0 replaced, 0 unchanged document(s); 2 chunk(s) written"),
        "{stdout}"
    );
    assert!(stdout.contains("trace: "), "{stdout}");
    let again = gantry(dir.path(), &["rag", "ingest", "notes", "./kb/cat.md"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("0 added, 0 replaced, 1 unchanged"),
        "the source is the path: {}",
        text(&again.stdout)
    );

    let query = gantry(dir.path(), &["rag", "query", "notes", "the stock market fell today.", "--top-k", "1"]);
    assert!(query.status.success(), "{}", text(&query.stderr));
    let stdout = text(&query.stdout);
    assert!(stdout.starts_with("1. score 1.0000  kb/sub/market.txt #0\n   the stock market fell today.\n"), "{stdout}");

    let list = gantry(dir.path(), &["rag", "list"]);
    let table = text(&list.stdout);
    assert!(table.lines().next().unwrap().starts_with("NAME"), "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("notes  all-minilm-l6-v2  32    200/20"), "{table}");

    let bad = gantry(dir.path(), &["rag", "ingest", "notes", "kb", "--chunk-size", "300"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("chunk_size 200 (asked 300)"), "{}", text(&bad.stderr));
    let bad = gantry(dir.path(), &["rag", "query", "missing", "anything"]);
    assert!(text(&bad.stderr).contains("no collection named 'missing'"), "{}", text(&bad.stderr));

    let deleted = gantry(dir.path(), &["rag", "delete", "notes"]);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    let list = gantry(dir.path(), &["rag", "list"]);
    assert_eq!(text(&list.stdout).lines().count(), 1, "only the header is left");
}
#[path = "cli/alerts.rs"]
mod alerts;
#[path = "cli/chains.rs"]
mod chains;
#[path = "cli/datasets.rs"]
mod datasets;
#[path = "cli/deploy.rs"]
mod deploy;
#[path = "cli/eval.rs"]
mod eval;
#[path = "cli/guard.rs"]
mod guard;
#[path = "cli/keys.rs"]
mod keys;
#[path = "cli/logs.rs"]
mod logs;
#[path = "cli/monitor.rs"]
mod monitor;
#[path = "cli/prompts.rs"]
mod prompts;
#[path = "cli/review.rs"]
mod review;
#[path = "cli/status.rs"]
mod status;
