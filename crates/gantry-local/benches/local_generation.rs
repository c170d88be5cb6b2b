//! Prompt and generation speed of the embedded chat model (SmolLM2-135M Q4_1) on 2 threads.
//!
//! Run: `GANTRY_TEST_MODELS_DIR=/path/to/data cargo bench -p gantry-local --bench local_generation`
//! (or pass the .gguf path as the first argument, or set `GANTRY_BENCH_MODEL`).
//! `scripts/bench_llama_cpp_python.py` measures the same numbers with llama-cpp-python.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::StreamExt;
use gantry_local::{LocalChatOptions, LocalChatProvider};
use gantry_providers::Provider;
use gantry_types::{ChatCompletionRequest, ChatMessage, Role};
use std::path::PathBuf;
use std::time::Instant;

/// About 240 prompt tokens once the chat template and default system prompt are added; the
/// Python script sends the same text.
const PROMPT: &str = "Here are some notes about running language models on small computers. \
A model is a long list of numbers, called weights, that turns a sequence of tokens into a guess \
about the next token. Small models such as SmolLM2 have about one hundred million weights and \
fit in the memory of a laptop, a phone or a single board computer. Quantisation stores each \
weight in four or five bits instead of sixteen, which makes the file smaller and the model \
faster, because reading weights from memory is the slowest part of generating text. Reading \
the prompt is different: all prompt tokens are processed together, so the processor can use \
wide vector instructions and the speed is limited by arithmetic rather than memory. That is \
why prompt speed is usually several times higher than generation speed. Threads help both, \
up to the number of physical cores. Please write a long, detailed essay that explains these \
ideas to a beginner, with examples, in at least ten paragraphs. Keep the language simple and \
friendly, and explain every technical word the first time it appears.";

const RUNS: usize = 3;
const GENERATED: u32 = 128;

fn model_path() -> Option<PathBuf> {
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return Some(PathBuf::from(arg));
    }
    if let Ok(path) = std::env::var("GANTRY_BENCH_MODEL") {
        return Some(PathBuf::from(path));
    }
    let dir = std::env::var("GANTRY_TEST_MODELS_DIR").ok()?;
    let path = PathBuf::from(dir).join("models").join(gantry_local::models::CHAT_MODEL_FILE);
    path.exists().then_some(path)
}

fn request(max_tokens: u32) -> ChatCompletionRequest {
    let mut r = ChatCompletionRequest::new("smollm2", vec![ChatMessage::text(Role::User, PROMPT)]);
    r.temperature = Some(0.0);
    r.max_tokens = Some(max_tokens);
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let Some(path) = model_path() else {
        println!("skipping: real models not found (set GANTRY_TEST_MODELS_DIR or GANTRY_BENCH_MODEL)");
        return;
    };
    let options = LocalChatOptions { threads: 2, context_size: 1024, max_concurrent: 1 };
    let load_start = Instant::now();
    let provider = tokio::task::spawn_blocking(move || LocalChatProvider::load(&path, options)).await.unwrap().unwrap();
    println!("loaded {} in {:.2}s", provider.model_path().display(), load_start.elapsed().as_secs_f64());

    // Warm-up: first use pages the weights in.
    provider.chat(request(4)).await.unwrap();

    let mut prompt_rates = Vec::new();
    let mut gen_rates = Vec::new();
    let mut prompt_tokens = 0;
    let mut generated = 0;
    for _ in 0..RUNS {
        // Time to the first sampled token ~ reading the prompt.
        let start = Instant::now();
        let one = provider.chat(request(1)).await.unwrap();
        let prefill = start.elapsed().as_secs_f64();
        prompt_tokens = one.usage.unwrap().prompt_tokens;
        prompt_rates.push(f64::from(prompt_tokens) / prefill);

        // Generation: tokens after the first, over the time after the first.
        let start = Instant::now();
        let mut stream = provider.chat_stream(request(GENERATED)).await.unwrap();
        let mut first_content = None;
        let mut completion = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            if first_content.is_none()
                && chunk.choices.iter().any(|c| c.delta.content.as_deref().is_some_and(|t| !t.is_empty()))
            {
                first_content = Some(Instant::now());
            }
            if let Some(usage) = chunk.usage {
                completion = usage.completion_tokens;
            }
        }
        let end = Instant::now();
        let first = first_content.unwrap_or(start);
        generated = completion;
        gen_rates.push(f64::from(completion.saturating_sub(1)) / (end - first).as_secs_f64());
    }
    println!("engine: llama.cpp via llama-cpp-2, 2 threads, median of {RUNS}");
    println!("prompt:     {prompt_tokens} tokens, {:.1} tokens/s", median(prompt_rates));
    println!("generation: {generated} tokens, {:.1} tokens/s", median(gen_rates));
    println!("peak RSS:   {:.0} MB", peak_rss_mb());

    // Batched decoding: four requests at once on a four-sequence engine.
    drop(provider);
    let path = model_path().unwrap();
    let options = LocalChatOptions { threads: 2, context_size: 1024, max_concurrent: 4 };
    let provider = tokio::task::spawn_blocking(move || LocalChatProvider::load(&path, options)).await.unwrap().unwrap();
    provider.chat(request(4)).await.unwrap();
    let start = Instant::now();
    let answers = futures::future::join_all((0..4).map(|_| provider.chat(request(GENERATED)))).await;
    let elapsed = start.elapsed().as_secs_f64();
    let total: u32 = answers.into_iter().map(|a| a.unwrap().usage.unwrap().completion_tokens).sum();
    println!(
        "4 concurrent requests: {total} tokens in {elapsed:.2}s, {:.1} tokens/s overall (prompts included)",
        f64::from(total) / elapsed
    );
}
