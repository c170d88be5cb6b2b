#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Render time per prompt: variables checked against their declarations, defaults filled,
//! every message rendered in the sandbox. Three prompts: the documented example
//! (`examples/prompts/support.toml`), a one-line template, and a few-shot prompt with a loop
//! over 20 examples. `build_call` adds what a `prompt:` chat call does on top (merging
//! parameters, the output validator).
//!
//! `cargo bench -p gantry-core --bench prompt_render`

use criterion::{criterion_group, criterion_main, Criterion};
use gantry_core::prompts::{self, FileFormat, PromptVersion};
use gantry_types::ChatCompletionRequest;
use serde_json::{json, Value};
use std::hint::black_box;

fn version(draft: prompts::PromptDraft) -> PromptVersion {
    let (name, spec) = draft.into_spec().unwrap();
    PromptVersion {
        name,
        version: 1,
        spec,
        message: None,
        author: "bench".into(),
        created_at: chrono::Utc::now(),
        content_hash: String::new(),
    }
}

fn few_shot() -> (PromptVersion, Value) {
    let draft = serde_json::from_value(json!({
        "name": "few-shot",
        "model": "m",
        "variables": {"examples": {"type": "array"}, "text": {}},
        "messages": [
            {"role": "system", "content": "Classify sentiment.\n{% for e in examples %}Text: {{ e.text }}\nLabel: {{ e.label }}\n{% endfor %}"},
            {"role": "user", "content": "Text: {{ text }}\nLabel:"}
        ],
        "output_schema": {"type": "object", "required": ["label"]}
    }))
    .unwrap();
    let examples: Vec<Value> = (0..20)
        .map(|i| json!({"text": format!("example number {i} with some words"), "label": if i % 2 == 0 { "pos" } else { "neg" }}))
        .collect();
    (version(draft), json!({"examples": examples, "text": "I loved it"}))
}

fn bench(c: &mut Criterion) {
    let text = include_str!("../../../examples/prompts/support.toml");
    let support = version(prompts::parse_prompt(text, FileFormat::Toml, "support.toml").unwrap());
    let support_vars =
        json!({"customer": "Ada", "question": "Where is my parcel?", "tier": "pro", "order_ids": [1201, 1202]});
    let one_line = version(
        serde_json::from_value(json!({"name": "one", "variables": [{"name": "q"}],
            "messages": [{"role": "user", "content": "{{ q }}"}]}))
        .unwrap(),
    );
    let (few, few_vars) = few_shot();

    let mut group = c.benchmark_group("prompt_render");
    group.bench_function("support_example", |b| {
        b.iter(|| prompts::render(black_box(&support), black_box(&support_vars)).unwrap())
    });
    group.bench_function("one_line", |b| {
        b.iter(|| prompts::render(black_box(&one_line), black_box(&json!({"q": "hi"}))).unwrap())
    });
    group.bench_function("few_shot_20_examples", |b| {
        b.iter(|| prompts::render(black_box(&few), black_box(&few_vars)).unwrap())
    });
    group.bench_function("build_call_support_example", |b| {
        b.iter(|| {
            let client = ChatCompletionRequest::new("prompt:support", Vec::new());
            prompts::build_call(black_box(&support), Some("production"), &support_vars, None, client).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
