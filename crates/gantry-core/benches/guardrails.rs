//! Throughput of the PII and secrets detectors and the prompt-injection rules on request-sized texts, beside a baseline in
//! the same run: one compiled `regex` e-mail pattern's `find_iter` over the same text, the
//! least any scanner has to do. Report each detector's median as a ratio to the baseline's.
//!
//! The texts are support messages from the labelled PII set (e-mails, phone numbers, cards,
//! IBANs, names, hard negatives) joined up to ~1 KB and ~16 KB, with a configuration snippet
//! holding secrets every ~4 KB, so both detectors see hits and long stretches without.
//!
//! `cargo bench -p gantry-core --bench guardrails`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gantry_core::guardrails::{injection, pii, secrets};
use std::hint::black_box;
use std::time::Duration;

const LABELLED: &str = include_str!("../tests/fixtures/pii_labelled.jsonl");

/// A pasted configuration with made-up credentials in real formats.
const CONFIG_SNIPPET: &str = "Here is my config, maybe it helps:\n\
    OPENAI_API_KEY=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\n\
    AWS_ACCESS_KEY_ID=AKIAN8MTZX272HPOEVB9\n\
    DB_PASSWORD=an2Cw^7gFp6r7O4#25\n\
    LOG_LEVEL=debug\nMAX_TOKENS=4096\n";

/// Messages of the labelled set, in file order, joined until the text reaches `size` bytes.
fn text_of_size(size: usize) -> String {
    let mut out = String::with_capacity(size + 1024);
    let mut next_snippet = 512;
    for line in LABELLED.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push_str(record["text"].as_str().unwrap());
        out.push_str("\n\n");
        if out.len() >= next_snippet {
            out.push_str(CONFIG_SNIPPET);
            next_snippet += 4096;
        }
        if out.len() >= size {
            break;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let email = regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
    for (label, size) in [("1KB", 1024), ("16KB", 16 * 1024)] {
        let text = text_of_size(size);
        let mut group = c.benchmark_group(format!("guardrails_{label}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(50);
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("baseline_regex_email", |b| b.iter(|| email.find_iter(black_box(&text)).count()));
        group.bench_function("pii_detect", |b| b.iter(|| pii::detect(black_box(&text))));
        group.bench_function("secrets_detect", |b| b.iter(|| secrets::detect(black_box(&text))));
        group.bench_function("injection_rules", |b| b.iter(|| injection::detect_rules(black_box(&text))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
