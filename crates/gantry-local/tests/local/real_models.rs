//! SmolLM2 and MiniLM themselves, when `GANTRY_TEST_MODELS_DIR` has them.

use super::*;
use gantry_local::models::{resolve_chat_model_from, resolve_embedding_model_from, CHAT_MODEL_FILE};
use gantry_local::{LocalEmbeddingProvider, Progress};
use gantry_providers::Provider;
use std::path::PathBuf;
fn real_models_dir() -> Option<PathBuf> {
    let dir = std::env::var("GANTRY_TEST_MODELS_DIR").ok().map(PathBuf::from);
    match dir {
        Some(d) if d.join("models").join(CHAT_MODEL_FILE).exists() => Some(d),
        _ => {
            println!("skipping: real models not found (set GANTRY_TEST_MODELS_DIR)");
            None
        }
    }
}

#[tokio::test]
async fn real_smollm2_answers_simple_questions() {
    let Some(dir) = real_models_dir() else { return };
    let path = resolve_chat_model_from(None, &dir, Progress::Quiet, &no_remote()).await.unwrap();
    let options = LocalChatOptions { threads: 2, context_size: 2048, max_concurrent: 2 };
    let provider = tokio::task::spawn_blocking(move || LocalChatProvider::load(&path, options)).await.unwrap().unwrap();
    let questions = [("What is 2+2?", "4"), ("What is the capital of Germany?", "Berlin")];
    let ask_one = |question: &str| {
        let mut r = greedy(question);
        r.max_tokens = Some(48);
        provider.chat(r)
    };
    for (question, expected) in questions {
        let done = ask_one(question).await.unwrap();
        let text = content(&done);
        assert!(text.contains(expected), "{question} -> {text:?}");
        let usage = done.usage.unwrap();
        assert!(usage.prompt_tokens > 20 && usage.completion_tokens > 0, "{usage:?}");
    }
    // Both at once: decoded together in one batch, each sequence keeps its own context.
    let (a, b) = tokio::join!(ask_one(questions[0].0), ask_one(questions[1].0));
    assert!(content(&a.unwrap()).contains("4"));
    assert!(content(&b.unwrap()).contains("Berlin"));
}

#[tokio::test]
async fn real_minilm_similarities_match_sentence_transformers() {
    let Some(dir) = real_models_dir() else { return };
    let path = resolve_embedding_model_from(None, &dir, Progress::Quiet, &no_remote()).await.unwrap();
    let provider = tokio::task::spawn_blocking(move || LocalEmbeddingProvider::load(&path)).await.unwrap().unwrap();
    let embed = |texts: &[&str]| {
        let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        let provider = provider.clone();
        async move { vectors(&provider.embed(embed_request(EmbeddingInput::Many(texts))).await.unwrap()) }
    };
    // The values sbert.net's quick start and STS pages print for all-MiniLM-L6-v2.
    let vs = embed(&["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]).await;
    assert_eq!(vs[0].len(), 384);
    for (i, j, expected) in [(0, 1, 0.6660), (0, 2, 0.1046), (1, 2, 0.1411)] {
        let got = cosine(&vs[i], &vs[j]);
        assert!((got - expected).abs() < 0.002, "pair ({i},{j}): {got}, expected {expected}");
    }
    let vs = embed(&[
        "The new movie is awesome",
        "The new movie is so great",
        "The cat sits outside",
        "The dog plays in the garden",
    ])
    .await;
    assert!((cosine(&vs[0], &vs[1]) - 0.8939).abs() < 0.002);
    assert!((cosine(&vs[2], &vs[3]) - 0.2838).abs() < 0.002);
    // Related vs unrelated sentences (values from an independent NumPy implementation).
    let vs = embed(&["a cat sits on the mat", "a kitten is sitting on a rug", "The stock market crashed today."]).await;
    let near = cosine(&vs[0], &vs[1]);
    let far = cosine(&vs[0], &vs[2]);
    assert!((near - 0.69).abs() < 0.02 && (far - 0.10).abs() < 0.02, "cat/kitten {near}, cat/stocks {far}");
}
