#!/usr/bin/env python3
"""Writes 10k deterministic evaluation items and times the Python reference packages on them.

The Rust benchmark (`cargo bench -p gantry-evals --bench metrics`) reads the same items file, so
both sides score identical inputs. Usage:

    /tmp/evalref/bin/python scripts/eval_reference/bench.py [--out target/eval-bench-items.jsonl] [--runs 5]
"""

import argparse
import json
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "target/eval-bench-items.jsonl"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
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
    for name, workload in workloads.items():
        times = []
        for _ in range(args.runs):
            clear_sacrebleu_caches()
            start = time.perf_counter()
            workload()
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:36} {statistics.median(times):24.2f}  {args.runs}")


if __name__ == "__main__":
    main()
