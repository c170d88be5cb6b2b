#!/usr/bin/env python3
"""Writes 10k deterministic evaluation items and times the Python reference packages on them.

The Rust benchmark (`cargo bench -p gantry-evals --bench metrics`) reads the same items file, so
both sides score identical inputs. Usage:

    /tmp/evalref/bin/python scripts/eval_reference/bench.py [--out target/eval-bench-items.jsonl] [--runs 5]
    cargo bench -p gantry-evals --bench metrics
    /tmp/evalref/bin/python scripts/eval_reference/bench.py --compare [--criterion-dir $CARGO_TARGET_DIR/criterion]

The first run saves the Python medians next to the items; `--compare` prints them beside the
medians criterion recorded for the Rust benchmark.
"""

import argparse
import json
import os
import random
import statistics
import time
import warnings
from pathlib import Path

import sacrebleu
from rapidfuzz.distance import Levenshtein
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU
from sklearn.metrics import classification_report

from generate import squad_em, squad_f1

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 10_000
LABELS = ["positive", "negative", "neutral", "mixed", "irrelevant"]
LABEL_WEIGHTS = [0.45, 0.3, 0.15, 0.07, 0.03]
WORDS = (
    "the a an of to in and is was were running runner runs quickly generously relational conditional "
    "model models evaluation evaluations answer answers question questions paris france capital city "
    "data dataset datasets prompt prompts token tokens score scores 2024 3.14 1,000 U.S.A. don't it's "
    "café naïve résumé hopefulness controlling adjustment universities happily cats dogs sat mat"
).split()
PUNCTUATION = [",", ".", "!", "?", ";", ":", " -", " (note)"]


def make_items(seed=20240601):
    rng = random.Random(seed)
    items = []
    for _ in range(ITEMS):
        reference_words = [rng.choice(WORDS) for _ in range(rng.randint(5, 30))]
        prediction_words = []
        for word in reference_words:
            roll = rng.random()
            if roll < 0.1:
                continue  # dropped
            if roll < 0.2:
                prediction_words.append(rng.choice(WORDS))  # substituted
            else:
                prediction_words.append(word.upper() if roll > 0.95 else word)
            if rng.random() < 0.05:
                prediction_words.append(rng.choice(WORDS))  # inserted
        reference = " ".join(reference_words) + rng.choice(PUNCTUATION)
        prediction = " ".join(prediction_words) + (rng.choice(PUNCTUATION) if rng.random() < 0.5 else "")
        label = rng.choices(LABELS, weights=LABEL_WEIGHTS)[0]
        predicted_label = label if rng.random() < 0.7 else rng.choice(LABELS[:-1])
        items.append({"prediction": prediction, "reference": reference, "label": label, "predicted_label": predicted_label})
    return items


def clear_sacrebleu_caches():
    # sacrebleu memoises tokenised lines; repeated runs on the same items would time the cache.
    from sacrebleu.tokenizers import tokenizer_13a, tokenizer_re
    for cls in (tokenizer_re.TokenizerRegexp, tokenizer_13a.Tokenizer13a):
        call = getattr(cls, "__call__")
        if hasattr(call, "cache_clear"):
            call.cache_clear()


# Python workload name -> the Rust benchmark's name in the `metrics_10k` criterion group.
RUST_NAMES = {
    "exact_match (SQuAD normalisation)": "exact_match_squad",
    "token_f1 (SQuAD)": "token_f1_squad",
    "rouge 1/2/L with stemmer": "rouge_stemmed",
    "sentence_bleu": "sentence_bleu",
    "corpus_bleu": "corpus_bleu",
    "levenshtein similarity": "levenshtein_similarity",
    "classification report": "classification_report",
}


def compare(python_medians_path, criterion_dir):
    python_medians = json.loads(Path(python_medians_path).read_text())
    print(f"{'metric (10k items)':36} {'Rust median ms':>15} {'Python median ms':>17} {'Python / Rust':>14}")
    for name, python_ms in python_medians.items():
        estimates = Path(criterion_dir) / "metrics_10k" / RUST_NAMES[name] / "new" / "estimates.json"
        if not estimates.exists():
            print(f"{name:36} {'(no criterion result)':>15} {python_ms:17.2f}")
            continue
        rust_ms = json.loads(estimates.read_text())["median"]["point_estimate"] / 1e6
        print(f"{name:36} {rust_ms:15.2f} {python_ms:17.2f} {python_ms / rust_ms:13.1f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "target/eval-bench-items.jsonl"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare", action="store_true", help="print the saved Python medians beside criterion's")
    default_target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    parser.add_argument("--criterion-dir", default=str(Path(default_target) / "criterion"))
    args = parser.parse_args()
    python_medians_path = Path(args.out).with_name("eval-bench-python-medians.json")
    if args.compare:
        compare(python_medians_path, args.criterion_dir)
        return
    warnings.filterwarnings("ignore")

    items = make_items()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    print(f"wrote {len(items)} items to {out}")

    predictions = [i["prediction"] for i in items]
    references = [i["reference"] for i in items]
    y_true = [i["label"] for i in items]
    y_pred = [i["predicted_label"] for i in items]
    rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    sentence_bleu = BLEU(effective_order=True)

    workloads = {
        "exact_match (SQuAD normalisation)": lambda: [squad_em(p, r) for p, r in zip(predictions, references)],
        "token_f1 (SQuAD)": lambda: [squad_f1(p, r) for p, r in zip(predictions, references)],
        "rouge 1/2/L with stemmer": lambda: [rouge.score(r, p) for p, r in zip(predictions, references)],
        "sentence_bleu": lambda: [sentence_bleu.sentence_score(p, [r]) for p, r in zip(predictions, references)],
        "corpus_bleu": lambda: sacrebleu.corpus_bleu(predictions, [references]),
        "levenshtein similarity": lambda: [Levenshtein.normalized_similarity(p, r) for p, r in zip(predictions, references)],
        "classification report": lambda: classification_report(y_true, y_pred, output_dict=True, zero_division=0),
    }
    print(f"{'metric':36} {'median (ms, 10k items)':>24}  runs")
    medians = {}
    for name, workload in workloads.items():
        times = []
        for _ in range(args.runs):
            clear_sacrebleu_caches()
            start = time.perf_counter()
            workload()
            times.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(times)
        print(f"{name:36} {medians[name]:24.2f}  {args.runs}")
    python_medians_path.write_text(json.dumps(medians, indent=1) + "\n")


if __name__ == "__main__":
    main()
