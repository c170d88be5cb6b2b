//! `GET /api/monitor/drift/{route}` over synthetic traffic of a deployed route, with the inputs
//! embedded through the gateway by the embedded engine (tiny BERT), and its error paths.

use crate::collections::tiny_config;
use crate::*;
use chrono::{Duration as Days, Utc};
use gantry_testkit::drift::{deploy_route, route_window, TrafficShape};

#[tokio::test]
async fn drift_names_what_moved_and_refuses_bad_requests_clearly() {
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_config(models.path())).await;
    let store = server.service.gateway.store().clone();
    deploy_route(store.as_ref(), "support-bot").await;
    let (now, day) = (Utc::now(), Days::days(1));
    let baseline = route_window("support-bot", now - day * 7, day * 5, 120, TrafficShape::default(), 1);
    let longer = TrafficShape { longer: 6, seed: 3, ..TrafficShape::default() };
    let recent = route_window("support-bot", now - Days::hours(23), Days::hours(22), 120, longer, 1);
    // Both windows well inside the server's own (it reads the clock a little later).
    store.insert_traces(&baseline).await.unwrap();
    store.insert_traces(&recent).await.unwrap();

    let (status, report) = server.get("/api/monitor/drift/support-bot?env=production").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["target_kind"].as_str(), report["environment"].as_str()), (Some("route"), Some("production")));
    assert_eq!((report["recent"]["traces"].as_u64(), report["baseline"]["samples"].as_u64()), (Some(120), Some(120)));
    assert_eq!(report["top_component"], "output_length", "{report:#}");
    assert_eq!(report["level"], "significant");
    assert!(report["score"].as_f64().unwrap() >= 0.25);
    // The inputs went through the configured embeddings model; topics held still.
    assert_eq!(report["embedding_model"], "all-minilm-l6-v2");
    let names: Vec<&str> =
        report["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"input_topics") && names.contains(&"input_centroid"), "{names:?}");

    let cases = [
        ("/api/monitor/drift/support-bot?window=5s", 400, "invalid_window", "window"),
        ("/api/monitor/drift/support-bot?window=1h&baseline_since=soon", 400, "invalid_parameter", "baseline_since"),
        (
            "/api/monitor/drift/support-bot?baseline_release=1&baseline_dataset=faq",
            400,
            "invalid_parameter",
            "baseline_release",
        ),
        ("/api/monitor/drift/support-bot?baseline_release=7", 404, "release_not_found", "baseline_release"),
        ("/api/monitor/drift/support-bot?baseline_dataset=faq@2", 404, "dataset_not_found", "baseline_dataset"),
        ("/api/monitor/drift/support-bot?env=staging", 404, "route_not_found", "env"),
        ("/api/monitor/drift/nobody", 404, "route_not_found", "route"),
    ];
    for (path, want_status, code, param) in cases {
        let (status, error) = error_of(server.http.get(server.url(path)).send().await.unwrap()).await;
        assert_eq!(status.as_u16(), want_status, "{path}: {error}");
        assert_eq!((error["code"].as_str(), error["param"].as_str()), (Some(code), Some(param)), "{path}");
    }
    // A window that holds almost nothing is "insufficient data", not a made-up score.
    let (status, error) =
        error_of(server.http.get(server.url("/api/monitor/drift/support-bot?window=1m")).send().await.unwrap()).await;
    assert_eq!(status.as_u16(), 422, "{error}");
    assert_eq!(error["code"], "insufficient_data");
    assert!(error["message"].as_str().unwrap().contains("recent window holds 0"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_drift_page_shows_a_route_report_or_why_there_is_none() {
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_config(models.path())).await;
    let store = server.service.gateway.store().clone();
    let page = |path: &'static str| {
        let request = server.http.get(server.url(path)).send();
        async move {
            let response = request.await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, html) = page("/ui/drift").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No route is deployed yet."), "{html}");

    deploy_route(store.as_ref(), "support-bot").await;
    let (now, day) = (Utc::now(), Days::days(1));
    let refusing = TrafficShape { refuse_every: 2, seed: 4, ..TrafficShape::default() };
    store
        .insert_traces(&route_window("support-bot", now - day * 7, day * 5, 60, TrafficShape::default(), 1))
        .await
        .unwrap();
    store
        .insert_traces(&route_window("support-bot", now - Days::hours(23), Days::hours(22), 60, refusing, 1))
        .await
        .unwrap();
    let (status, html) = page("/ui/drift?route=support-bot&env=production&window=24h").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("id=\"drift-components\"") && html.contains("<option selected>support-bot</option>"),
        "{html}"
    );
    let first_row = html.split("<tbody>").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(first_row.contains("refusal rate") && first_row.contains("significant"), "{first_row}");
    let (status, html) = page("/ui/drift?route=support-bot&window=1h").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("not enough data to compare"), "{html}");
    let (status, _) = page("/ui/drift?route=support-bot&window=5s").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}
