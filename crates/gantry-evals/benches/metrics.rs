//! Evaluator throughput on 10k items: the items `scripts/eval_reference/bench.py` wrote (so the
//! Python reference packages are timed on the same inputs), or a deterministic stand-in set.
//!
//! `GANTRY_EVAL_BENCH_ITEMS` names the items file; the default is `target/eval-bench-items.jsonl`
//! in the workspace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gantry_evals::metrics::{
    classification_report, corpus_bleu, exact_match, levenshtein_similarity, rouge_scores, sentence_bleu,
    squad_token_f1, NormalizeOptions,
};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const ITEMS: usize = 10_000;

struct Item {
    prediction: String,
    reference: String,
    label: String,
    predicted_label: String,
}

fn load_items() -> Vec<Item> {
    let path = std::env::var_os("GANTRY_EVAL_BENCH_ITEMS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/eval-bench-items.jsonl")));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let items: Vec<Item> = text
                .lines()
                .map(|line| {
                    let value: serde_json::Value = serde_json::from_str(line).expect("an items line is JSON");
                    let field = |name: &str| value[name].as_str().expect("items have string fields").to_string();
                    Item {
                        prediction: field("prediction"),
                        reference: field("reference"),
                        label: field("label"),
                        predicted_label: field("predicted_label"),
                    }
                })
                .collect();
            eprintln!("benchmarking {} items from {}", items.len(), path.display());
            items
        }
        Err(_) => {
            eprintln!("{} not found: benchmarking generated items (run scripts/eval_reference/bench.py to compare with Python)", path.display());
            generated_items()
        }
    }
}

/// A deterministic stand-in when the shared items file is absent (a fixed linear congruential
/// sequence, so every run scores the same texts).
fn generated_items() -> Vec<Item> {
    const WORDS: &[&str] = &[
        "the",
        "a",
        "of",
        "model",
        "answer",
        "question",
        "paris",
        "france",
        "running",
        "runner",
        "generously",
        "relational",
        "evaluation",
        "data",
        "token",
        "scores",
        "2024",
        "3.14",
        "don't",
        "café",
        "hopefulness",
    ];
    const LABELS: &[&str] = &["positive", "negative", "neutral", "mixed", "irrelevant"];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound
    };
    (0..ITEMS)
        .map(|_| {
            let reference: Vec<&str> = (0..5 + next(25)).map(|_| WORDS[next(WORDS.len())]).collect();
            let mut prediction: Vec<&str> = Vec::with_capacity(reference.len());
            for word in &reference {
                match next(10) {
                    0 => {}
                    1 => prediction.push(WORDS[next(WORDS.len())]),
                    _ => prediction.push(word),
                }
            }
            let label = LABELS[next(LABELS.len())];
            let predicted_label = if next(10) < 7 { label } else { LABELS[next(LABELS.len())] };
            Item {
                prediction: prediction.join(" "),
                reference: reference.join(" ") + ".",
                label: label.to_string(),
                predicted_label: predicted_label.to_string(),
            }
        })
        .collect()
}

fn evaluators(c: &mut Criterion) {
    let items = load_items();
    let mut group = c.benchmark_group("metrics_10k");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    group.bench_function("exact_match_squad", |b| {
        b.iter(|| items.iter().filter(|i| exact_match(&i.prediction, &i.reference, NormalizeOptions::SQUAD)).count())
    });
    group.bench_function("token_f1_squad", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|i| squad_token_f1(&i.prediction, std::slice::from_ref(&i.reference)).unwrap())
                .sum::<f64>()
        })
    });
    group.bench_function("rouge_stemmed", |b| {
        b.iter(|| items.iter().map(|i| rouge_scores(&i.reference, &i.prediction, true).rouge_l.fmeasure).sum::<f64>())
    });
    group.bench_function("sentence_bleu", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|i| sentence_bleu(&i.prediction, std::slice::from_ref(&i.reference)).unwrap().score)
                .sum::<f64>()
        })
    });
    let predictions: Vec<&str> = items.iter().map(|i| i.prediction.as_str()).collect();
    let references: Vec<Vec<&str>> = items.iter().map(|i| vec![i.reference.as_str()]).collect();
    group
        .bench_function("corpus_bleu", |b| b.iter(|| corpus_bleu(black_box(&predictions), &references).unwrap().score));
    group.bench_function("levenshtein_similarity", |b| {
        b.iter(|| items.iter().map(|i| levenshtein_similarity(&i.prediction, &i.reference)).sum::<f64>())
    });
    let y_true: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    let y_pred: Vec<&str> = items.iter().map(|i| i.predicted_label.as_str()).collect();
    group.bench_function("classification_report", |b| {
        b.iter(|| classification_report(black_box(&y_true), &y_pred).unwrap().macro_avg.f1)
    });
    group.finish();
}

criterion_group!(benches, evaluators);
criterion_main!(benches);
