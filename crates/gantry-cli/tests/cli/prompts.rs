//! `gantry prompts` as a user runs it: the example file pushed twice (one version), a change
//! pushed with a label, list, show, diff, label, render, clear errors; and `--url` against a
//! running server.

use std::path::Path;

const EXAMPLE: &str = include_str!("../../../../examples/prompts/support.toml");
const CLASSIFY: &str = include_str!("../../../../examples/prompts/classify.yaml");

/// `gantry prompts ARGS` succeeded: its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    super::succeeds(dir, &[&["prompts"], args].concat())
}

/// `gantry prompts ARGS` failed: its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    super::refused(dir, &[&["prompts"], args].concat())
}

#[test]
fn push_twice_is_one_version_then_show_diff_label_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("support.toml"), EXAMPLE).unwrap();
    std::fs::write(d.join("classify.yaml"), CLASSIFY).unwrap();

    let out = ok(d, &["push", "support.toml", "classify.yaml", "-m", "first"]);
    assert_eq!(out, "support: created version 1\nclassify-ticket: created version 1\n");
    let out = ok(d, &["push", "support.toml"]);
    assert_eq!(out, "support: unchanged, still version 1 (no new version created)\n");

    std::fs::write(d.join("support.toml"), EXAMPLE.replace("temperature = 0.2", "temperature = 0.5")).unwrap();
    let out = ok(d, &["push", "support.toml", "--message", "warmer", "--label", "production"]);
    assert_eq!(out, "support: created version 2\nsupport: label production -> 2 (new)\n");

    let list = ok(d, &["list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines.len() == 3, "{list}");
    assert!(lines[1].starts_with("classify-ticket  1"), "sorted by name: {list}");
    assert!(lines[2].starts_with("support") && lines[2].contains("latest=2 production=2"), "{list}");

    let history = ok(d, &["show", "support"]);
    for needle in [
        "prompt:  support",
        "latest -> 2, production -> 2",
        "warmer",
        "ci-bot",
        "label history:",
        "production  - -> 2  ci-bot",
        "newest version (2):",
        "temperature = 0.5",
    ] {
        assert!(history.contains(needle), "missing {needle:?} in:\n{history}");
    }
    let v1 = ok(d, &["show", "support@1"]);
    assert!(v1.starts_with("support@1\nauthor:  ci-bot\n"), "{v1}");
    assert!(v1.contains("message: first") && v1.contains("  temperature = 0.2\n"), "{v1}");
    assert!(v1.contains("messages[1] user:\n  Customer: {{ customer }}\n  Question: {{ question }}\n"), "{v1}");
    let by_label = ok(d, &["show", "support@production"]);
    assert!(by_label.starts_with("support@2  [latest, production]\n"), "{by_label}");

    let diff = ok(d, &["diff", "support", "1", "2"]);
    assert!(diff.starts_with("support: version 1 -> 2\nchanged: parameters.temperature\n"), "{diff}");
    assert!(diff.contains("-  temperature = 0.2\n+  temperature = 0.5\n"), "{diff}");
    assert!(ok(d, &["diff", "support", "2", "latest"]).contains("no differences"));

    assert_eq!(ok(d, &["label", "support", "1", "production"]), "support: label production moved 2 -> 1\n");
    assert_eq!(
        ok(d, &["label", "support", "1", "production"]),
        "support: label production already points at version 1\n"
    );

    let rendered = ok(
        d,
        &[
            "render",
            "support",
            "--var",
            "customer=Ada",
            "--var",
            "question=Where is it?",
            "--var",
            "order_ids=[12, 13]",
        ],
    );
    assert!(rendered.starts_with("support@1 (production), model: smollm2-135m-instruct\n[system]\n"), "{rendered}");
    assert!(rendered.contains("on the free plan.\nTheir recent orders: 12, 13."), "{rendered}");
    assert!(rendered.ends_with("[user]\nCustomer: Ada\nQuestion: Where is it?\n"), "{rendered}");
    let rendered =
        ok(d, &["render", "support@2", "--var", "customer=Bo", "--var", "question=Hi", "--var", "tier=enterprise"]);
    assert!(rendered.contains("dedicated account manager") && !rendered.contains("recent orders"), "{rendered}");

    // Failures are clear and exit non-zero.
    let err = fails(d, &["render", "support", "--var", "customer=Ada"]);
    assert!(err.contains("missing required variable 'question'"), "{err}");
    let err = fails(d, &["render", "support", "--var", "customer=Ada", "--var", "question=Q", "--var", "mood=x"]);
    assert!(err.contains("unknown variable 'mood'"), "{err}");
    assert!(fails(d, &["show", "ghost"]).contains("no prompt named 'ghost'"));
    assert!(fails(d, &["show", "support@7"]).contains("has no version 7 (the newest is 2)"));
    assert!(fails(d, &["label", "support", "9", "production"]).contains("no version 9"));
    assert!(fails(d, &["label", "support", "1", "latest"]).contains("moves by itself"));
    std::fs::write(
        d.join("broken.toml"),
        "name = \"broken\"\n[[messages]]\nrole = \"user\"\ncontent = \"{% if x %}\"\n",
    )
    .unwrap();
    let err = fails(d, &["push", "support.toml", "broken.toml"]);
    assert!(err.contains("broken.toml") && err.contains("template syntax error at line 1"), "{err}");
    let err = fails(d, &["push", "missing.toml"]);
    assert!(err.contains("missing.toml") && err.contains("cannot read"), "{err}");
    std::fs::write(d.join("typo.yaml"), "name: typo\nmesages: []\n").unwrap();
    let err = fails(d, &["push", "typo.yaml"]);
    assert!(err.contains("typo.yaml") && err.contains("mesages"), "{err}");
    // The failed batch stored nothing.
    assert!(ok(d, &["list"]).lines().count() == 3);
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
    std::fs::write(work.join("support.toml"), EXAMPLE).unwrap();
    let outputs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--url", &url]);
            ok(&work, &all)
        };
        vec![
            run(&["push", "support.toml", "--label", "staging"]),
            run(&["push", "support.toml"]),
            run(&["list"]),
            run(&["show", "support@staging"]),
            run(&["render", "support@1", "--var", "customer=Ada", "--var", "question=Q"]),
            run(&["label", "support", "1", "production"]),
            run(&["diff", "support", "1", "production"]),
            run(&["show", "support"]),
        ]
    })
    .await
    .unwrap();
    assert_eq!(outputs[0], "support: created version 1\nsupport: label staging -> 1 (new)\n");
    assert_eq!(outputs[1], "support: unchanged, still version 1 (no new version created)\n");
    assert!(outputs[2].contains("latest=1 staging=1"), "{}", outputs[2]);
    assert!(outputs[3].starts_with("support@1  [latest, staging]\nauthor:  ci-bot\n"), "{}", outputs[3]);
    assert!(outputs[4].contains("[user]\nCustomer: Ada\nQuestion: Q\n"), "{}", outputs[4]);
    assert_eq!(outputs[5], "support: label production -> 1 (new)\n");
    assert!(outputs[6].contains("no differences"), "{}", outputs[6]);
    assert!(outputs[7].contains("production  - -> 1  ci-bot"), "{}", outputs[7]);
    // The server's store has it; the local one was never touched.
    assert!(!dir.path().join(".gantry").exists());

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    service.shutdown().await;
}
