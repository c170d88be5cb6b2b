//! Every evaluator against the values the reference Python packages computed
//! (`scripts/eval_reference/generate.py` wrote `tests/fixtures/reference_values.json`).

use gantry_evals::metrics::*;
use serde_json::Value;
use std::sync::OnceLock;

const TOLERANCE: f64 = 1e-6;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference_values.json");
        let text = std::fs::read_to_string(path).expect("reference fixture is readable");
        serde_json::from_str(&text).expect("reference fixture is JSON")
    })
}

fn cases(family: &str) -> &'static [Value] {
    let cases = fixture()[family].as_array().unwrap_or_else(|| panic!("fixture has no '{family}' cases"));
    assert!(cases.len() >= 20, "{family}: only {} reference cases", cases.len());
    cases
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("expected a string, got {value}"))
}

fn texts(value: &Value) -> Vec<String> {
    value.as_array().expect("a list of strings").iter().map(|v| text(v).to_string()).collect()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("expected a number, got {value}"))
}

fn assert_close(actual: f64, expected: &Value, what: impl std::fmt::Display) {
    let expected = number(expected);
    assert!((actual - expected).abs() <= TOLERANCE, "{what}: got {actual}, reference {expected}");
}

#[test]
fn exact_match_and_normalisation_match_the_squad_definition() {
    for case in cases("exact_match") {
        let options: NormalizeOptions = serde_json::from_value(case["options"].clone()).unwrap();
        let (prediction, reference) = (text(&case["prediction"]), text(&case["reference"]));
        assert_eq!(normalize_text(prediction, options), text(&case["normalized_prediction"]), "{case}");
        assert_eq!(exact_match(prediction, reference, options), case["expected"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn contains_matches_python_in_operator() {
    for case in cases("contains") {
        let actual =
            contains(text(&case["output"]), text(&case["expected_text"]), case["case_sensitive"].as_bool().unwrap());
        assert_eq!(actual, case["expected"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn regex_match_matches_python_re_search() {
    for case in cases("regex") {
        let actual = regex_match(text(&case["pattern"]), text(&case["text"])).unwrap();
        assert_eq!(actual, case["expected"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn json_validity_matches_strict_python_json() {
    for case in cases("json_valid") {
        assert_eq!(is_valid_json(text(&case["text"])), case["expected"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn classification_matches_scikit_learn() {
    for (index, case) in cases("classification").iter().enumerate() {
        let (y_true, y_pred) = (texts(&case["y_true"]), texts(&case["y_pred"]));
        let report = classification_report(&y_true, &y_pred).unwrap();
        assert_close(accuracy(&y_true, &y_pred).unwrap(), &case["accuracy"], format!("case {index} accuracy"));
        assert_close(report.accuracy, &case["accuracy"], format!("case {index} report accuracy"));
        let labels: Vec<&str> = report.per_class.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, texts(&case["labels"]), "case {index} labels");
        for (position, class) in report.per_class.iter().enumerate() {
            let reference = &case["per_class"];
            let what = |metric: &str| format!("case {index} class {} {metric}", class.label);
            assert_close(class.scores.precision, &reference["precision"][position], what("precision"));
            assert_close(class.scores.recall, &reference["recall"][position], what("recall"));
            assert_close(class.scores.f1, &reference["f1"][position], what("f1"));
            // sklearn sometimes returns the support as floats (1.0), so it is compared as a number.
            assert_close(class.support as f64, &reference["support"][position], what("support"));
        }
        for (name, average) in [("micro", &report.micro), ("macro", &report.macro_avg), ("weighted", &report.weighted)]
        {
            assert_close(average.precision, &case[name]["precision"], format!("case {index} {name} precision"));
            assert_close(average.recall, &case[name]["recall"], format!("case {index} {name} recall"));
            assert_close(average.f1, &case[name]["f1"], format!("case {index} {name} f1"));
        }
        assert_eq!(report.support, y_true.len());
    }
}

#[test]
fn squad_metrics_match_the_official_script() {
    for case in cases("squad") {
        let (prediction, truths) = (text(&case["prediction"]), texts(&case["ground_truths"]));
        assert_eq!(squad_normalize(prediction), text(&case["normalized_prediction"]), "{case}");
        assert_close(squad_exact_match(prediction, &truths).unwrap(), &case["exact_match"], format!("EM {case}"));
        assert_close(squad_token_f1(prediction, &truths).unwrap(), &case["f1"], format!("F1 {case}"));
    }
}

fn assert_bleu(actual: &BleuScore, case: &Value) {
    assert_close(actual.score, &case["score"], format!("score {case}"));
    for order in 0..4 {
        assert_close(actual.precisions[order], &case["precisions"][order], format!("precision {} {case}", order + 1));
    }
    assert_close(actual.brevity_penalty, &case["brevity_penalty"], format!("brevity penalty {case}"));
    assert_eq!(actual.sys_len as u64, case["sys_len"].as_u64().unwrap(), "sys_len {case}");
    assert_eq!(actual.ref_len as u64, case["ref_len"].as_u64().unwrap(), "ref_len {case}");
}

#[test]
fn sentence_bleu_matches_sacrebleu() {
    for case in cases("sentence_bleu") {
        let score = sentence_bleu(text(&case["hypothesis"]), &texts(&case["references"])).unwrap();
        assert_bleu(&score, case);
    }
}

#[test]
fn corpus_bleu_matches_sacrebleu() {
    for case in cases("corpus_bleu") {
        let references: Vec<Vec<String>> = case["references"].as_array().unwrap().iter().map(texts).collect();
        let score = corpus_bleu(&texts(&case["hypotheses"]), &references).unwrap();
        assert_bleu(&score, case);
    }
}

#[test]
fn rouge_matches_rouge_score() {
    for case in cases("rouge") {
        let scores =
            rouge_scores(text(&case["target"]), text(&case["prediction"]), case["use_stemmer"].as_bool().unwrap());
        for (name, score) in [("rouge1", scores.rouge1), ("rouge2", scores.rouge2), ("rougeL", scores.rouge_l)] {
            assert_close(score.precision, &case[name][0], format!("{name} precision {case}"));
            assert_close(score.recall, &case[name][1], format!("{name} recall {case}"));
            assert_close(score.fmeasure, &case[name][2], format!("{name} fmeasure {case}"));
        }
    }
}

#[test]
fn porter_stemmer_matches_nltk() {
    let mismatches: Vec<String> = cases("porter")
        .iter()
        .filter_map(|case| {
            let (word, stem) = (text(&case["word"]), text(&case["stem"]));
            let actual = porter::porter_stem(word);
            (actual != stem).then(|| format!("{word}: got {actual}, NLTK {stem}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn levenshtein_similarity_matches_rapidfuzz() {
    for case in cases("levenshtein") {
        let actual = levenshtein_similarity(text(&case["a"]), text(&case["b"]));
        assert_close(actual, &case["expected"], case);
    }
}

#[test]
fn cosine_similarity_matches_numpy() {
    let vector = |value: &Value| -> Vec<f32> { value.as_array().unwrap().iter().map(|x| number(x) as f32).collect() };
    for case in cases("cosine") {
        let actual = cosine_similarity(&vector(&case["a"]), &vector(&case["b"])).unwrap();
        assert_close(actual, &case["expected"], case);
    }
}
