//! Gantry's PII detector on the labelled set (`tests/fixtures/pii_labelled.jsonl`, made by
//! `scripts/guard_reference/generate_pii_set.py`), scored per entity type with exact-span
//! matching and compared with Microsoft Presidio's scores on the same set
//! (`tests/fixtures/presidio_scores.json`, made by `scripts/guard_reference/presidio_eval.py`).
//!
//! Print the table: `cargo test -p gantry-core --test core pii_labelled -- --nocapture`
//! (or `scripts/guard_reference/compare.sh`). `GANTRY_PII_ERRORS=person` also prints that
//! type's misses and false alarms.

use gantry_core::guardrails::pii::{detect, PiiKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Byte offset of each character offset in `text` (plus one past the end).
fn byte_offsets(text: &str) -> Vec<usize> {
    text.char_indices().map(|(b, _)| b).chain([text.len()]).collect()
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn precision(self) -> f64 {
        if self.tp + self.fp == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(self) -> f64 {
        if self.tp + self.fn_ == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
    fn f1(self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Scores `detect` on a labelled JSONL file, prints the table beside Presidio's scores on the
/// same file, and returns the types where Gantry's F1 is below Presidio's (or below `floor`
/// where Presidio has no recognizer), with the number of records.
fn score(dataset: &str, reference: &str, floor: f64) -> (usize, Vec<String>) {
    assert!(
        gantry_core::guardrails::pii::given_name_lexicon_size() > 1000,
        "the given-name lexicon was not fetched before the build: run scripts/setup.sh (or scripts/fetch-given-names.py)"
    );
    let data = std::fs::read_to_string(format!("{FIXTURES}/{dataset}")).unwrap();
    let presidio: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{reference}")).unwrap()).unwrap();
    let show_errors = std::env::var("GANTRY_PII_ERRORS").unwrap_or_default();
    let mut counts: BTreeMap<&str, Counts> = PiiKind::ALL.iter().map(|k| (k.as_str(), Counts::default())).collect();
    let mut records = 0;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        records += 1;
        let record: Value = serde_json::from_str(line).unwrap();
        let text = record["text"].as_str().unwrap();
        let offsets = byte_offsets(text);
        let gold: BTreeSet<(String, usize, usize)> = record["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let at = |key: &str| offsets[s[key].as_u64().unwrap() as usize];
                (s["type"].as_str().unwrap().to_string(), at("start"), at("end"))
            })
            .collect();
        let predicted: BTreeSet<(String, usize, usize)> =
            detect(text).into_iter().map(|s| (s.kind.as_str().to_string(), s.start, s.end)).collect();
        for (kind, c) in counts.iter_mut() {
            let g: BTreeSet<_> = gold.iter().filter(|s| s.0 == *kind).collect();
            let p: BTreeSet<_> = predicted.iter().filter(|s| s.0 == *kind).collect();
            let hit = g.intersection(&p).count();
            c.tp += hit;
            c.fp += p.len() - hit;
            c.fn_ += g.len() - hit;
            if show_errors.split(',').any(|t| t == *kind || t == "all") {
                for s in g.difference(&p) {
                    println!("MISS  {kind:<11} {:?} in {text:?}", &text[s.1..s.2]);
                }
                for s in p.difference(&g) {
                    println!("FALSE {kind:<11} {:?} in {text:?}", &text[s.1..s.2]);
                }
            }
        }
    }
    println!(
        "\nPII detection on {records} records of {dataset}, exact span match \
         (Presidio {} with spaCy {} / {}):",
        presidio["presidio_analyzer"].as_str().unwrap_or("?"),
        presidio["spacy"].as_str().unwrap_or("?"),
        presidio["spacy_pipeline"].as_str().unwrap_or("?"),
    );
    println!(
        "{:<12} {:>5} | {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6}",
        "type", "n", "G P", "G R", "G F1", "Pr P", "Pr R", "Pr F1"
    );
    let mut failures = Vec::new();
    for (kind, c) in &counts {
        let reference = &presidio["exact"][kind];
        let presidio_cell = |key: &str| reference[key].as_f64().map_or("-".to_string(), |v| format!("{v:.3}"));
        println!(
            "{kind:<12} {:>5} | {:>6.3} {:>6.3} {:>6.3} | {:>6} {:>6} {:>6}",
            c.tp + c.fn_,
            c.precision(),
            c.recall(),
            c.f1(),
            presidio_cell("precision"),
            presidio_cell("recall"),
            presidio_cell("f1"),
        );
        match reference["f1"].as_f64() {
            Some(theirs) if c.f1() + 1e-9 < theirs => {
                failures.push(format!("{kind}: Gantry F1 {:.3} < Presidio {theirs:.3}", c.f1()))
            }
            None if c.f1() < floor => {
                failures.push(format!("{kind}: Gantry F1 {:.3} < {floor} (no Presidio score)", c.f1()))
            }
            _ => {}
        }
    }
    (records, failures)
}

#[test]
fn gantry_pii_f1_is_at_least_presidios_on_the_labelled_set() {
    let (records, failures) = score("pii_labelled.jsonl", "presidio_scores.json", 0.9);
    assert!(records >= 1000, "the labelled set has {records} records");
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

/// The hand-written held-out set (`scripts/guard_reference/heldout_pii.py`): phrasings the
/// generator's templates do not use, written after the detectors.
#[test]
fn gantry_pii_on_the_held_out_set() {
    let (records, failures) = score("pii_heldout.jsonl", "presidio_heldout_scores.json", 0.8);
    assert!(records >= 70, "the held-out set has {records} records");
    assert!(failures.is_empty(), "{}", failures.join("; "));
}
