//! `gantry datasets` as a user runs it on the example file: import, list, show, clean, stats,
//! export, clear errors that store nothing; and `--url` against a running server.

use std::path::Path;

const EXAMPLE: &str = include_str!("../../../../examples/datasets/support.jsonl");

/// `gantry datasets ARGS` succeeded: its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    super::succeeds(dir, &[&["datasets"], args].concat())
}

/// `gantry datasets ARGS` failed: its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    super::refused(dir, &[&["datasets"], args].concat())
}

#[test]
fn import_clean_stats_and_export_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("support.jsonl"), EXAMPLE).unwrap();
    assert_eq!(
        ok(d, &["import", "support", "support.jsonl"]),
        "support: created version 1 (20 items) from support.jsonl\n"
    );

    let list = ok(d, &["list"]);
    assert!(list.lines().nth(1).unwrap().starts_with("support  1       20     1         "), "{list}");

    let cleaned =
        ok(d, &["clean", "support", "--drop-empty", "--min-chars", "5", "--dedupe", "--near-dupes", "--redact-pii"]);
    assert!(cleaned.starts_with("support: cleaned version 1 into version 2 (20 -> 16 items)\n"), "{cleaned}");
    assert!(cleaned.contains("e.g. #5 (same as item 0)"), "{cleaned}");
    assert!(cleaned.contains("near_duplicates(0.8)   removed 1\n"), "{cleaned}");
    assert!(cleaned.contains("similar to item 3)"), "{cleaned}");
    assert!(
        cleaned
            .contains("redact_pii             changed 3\n    phone: 2  e.g. #6 (1 phone), #14 (1 phone)\n    email: 1"),
        "{cleaned}"
    );

    let show = ok(d, &["show", "support@1", "--items", "1"]);
    assert!(
        show.starts_with("support@1  (2 version(s))\nitems:   20\nsource:  import support.jsonl\nauthor:  ci-bot\n"),
        "{show}"
    );
    assert!(
        show.contains("\n#0 {\"input\":[{\"role\":\"user\",\"content\":\"How do I reset my password?\"}]"),
        "{show}"
    );

    let stats = ok(d, &["stats", "support@2", "--label-key", "category"]);
    assert!(stats.starts_with("support@2: 16 items\nmissing expected: 0   duplicates: 0 (0.0%)\n"), "{stats}");
    assert!(
        stats.contains("\nlabels (category):\n  account  | ████████████████████████████████████████ 5\n"),
        "{stats}"
    );
    assert!(stats.contains("input length (tokens): min "), "{stats}");

    let chat = ok(d, &["export", "support", "--format", "chat"]);
    assert_eq!(chat.lines().count(), 16);
    assert!(chat.contains("Please call me back at <PHONE_1> about my refund."), "{chat}");
    assert!(
        chat.starts_with(
            "{\"messages\":[{\"role\":\"user\",\"content\":\"How do I reset my password?\"},{\"role\":\"assistant\""
        ),
        "{chat}"
    );
    let out = super::gantry(d, &["datasets", "export", "support@1", "-o", "v1.jsonl"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "exported 20 item(s) as jsonl to v1.jsonl\n");
    assert!(std::fs::read_to_string(d.join("v1.jsonl")).unwrap().contains("jane.doe@example.com"), "v1 is untouched");

    // Bad files fail with the line and store nothing.
    std::fs::write(d.join("bad.jsonl"), format!("{EXAMPLE}{{\"input\": \"cut\"\n")).unwrap();
    let err = fails(d, &["import", "broken", "bad.jsonl"]);
    assert!(err.contains("bad.jsonl: line 21: not valid JSON"), "{err}");
    std::fs::write(d.join("rows.csv"), "question,answer\nq1,a1\nq2\n").unwrap();
    let err = fails(d, &["import", "rows", "rows.csv", "--input-columns", "question", "--expected-column", "answer"]);
    assert!(err.contains("line 3: the row has 1 fields, the header has 2"), "{err}");
    assert_eq!(ok(d, &["list"]).lines().count(), 2, "only the example is stored");
    std::fs::write(d.join("rows.csv"), "question,answer,topic\nq1,a1,x\nq2,,y\n").unwrap();
    let out = ok(
        d,
        &[
            "import",
            "rows",
            "rows.csv",
            "--input-columns",
            "question",
            "--expected-column",
            "answer",
            "--metadata-columns",
            "topic",
        ],
    );
    assert_eq!(out, "rows: created version 1 (2 items) from rows.csv\n");
    assert!(fails(d, &["stats", "support@9"]).contains("dataset 'support' has no version 9"));
    assert!(fails(d, &["clean", "support"]).contains("name a step"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_mode_talks_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let raw = gantry_core::config::parse("[local]\nenabled = false\n").unwrap();
    let overrides = gantry_core::Overrides { data_dir: Some(dir.path().join("server")), ..Default::default() };
    let config = gantry_core::config::validate(raw, overrides).unwrap();
    let service = gantry_core::Service::with_providers(&config, &Default::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async move {
            let _ = stopped.await;
        }));

    let work = dir.path().to_path_buf();
    std::fs::write(work.join("support.jsonl"), EXAMPLE).unwrap();
    let outputs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--url", &url]);
            ok(&work, &all)
        };
        let err = {
            let mut all = vec!["from-traces", "nothing"];
            all.extend(["--url", &url]);
            fails(&work, &all)
        };
        vec![
            run(&["import", "support", "support.jsonl"]),
            run(&["clean", "support", "--dedupe"]),
            run(&["list"]),
            run(&["show", "support@2", "--items", "1"]),
            run(&["stats", "support"]),
            run(&["export", "support", "--format", "chat"]),
            err,
        ]
    })
    .await
    .unwrap();
    assert_eq!(outputs[0], "support: created version 1 (20 items) from support.jsonl\n");
    assert!(outputs[1].starts_with("support: cleaned version 1 into version 2 (20 -> 19 items)\n"), "{}", outputs[1]);
    assert!(outputs[2].contains("support  2       19     2 "), "{}", outputs[2]);
    assert!(outputs[3].starts_with("support@2  (2 version(s))\nitems:   19\n"), "{}", outputs[3]);
    assert!(outputs[3].contains("\n#0 {"), "{}", outputs[3]);
    assert!(
        outputs[4].starts_with("support@2: 19 items\nmissing expected: 1   duplicates: 0 (0.0%)\n"),
        "{}",
        outputs[4]
    );
    assert_eq!(outputs[5].lines().count(), 18, "the item without expected is skipped");
    assert!(outputs[6].contains("no chat traces match the filter"), "{}", outputs[6]);
    assert!(!dir.path().join(".gantry").exists(), "the local store was never touched");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    service.shutdown().await;
}
