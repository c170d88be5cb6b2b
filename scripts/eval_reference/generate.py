#!/usr/bin/env python3
"""Computes reference values for Gantry's evaluators with the reference Python packages.

Writes crates/gantry-evals/tests/fixtures/reference_values.json, which the crate's integration
test compares against (to 1e-6). Set up once:

    python3 -m venv /tmp/evalref
    /tmp/evalref/bin/pip install rouge-score sacrebleu scikit-learn nltk rapidfuzz
    /tmp/evalref/bin/python scripts/eval_reference/generate.py
"""

import json
import math
import random
import re
import string
import sys
import warnings
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import numpy as np
import sacrebleu
from nltk.stem.porter import PorterStemmer
from rapidfuzz.distance import Levenshtein
from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/gantry-evals/tests/fixtures/reference_values.json"

warnings.filterwarnings("ignore")


# --- SQuAD v1.1, written from the official evaluation script's definition -----------------------
# normalize_answer: lowercase, drop string.punctuation, replace the whole words a/an/the by a space,
# then split on whitespace and re-join with single spaces. F1 is over the multiset of tokens.

def squad_lower(text):
    return text.lower()


def squad_strip_punctuation(text):
    punctuation = set(string.punctuation)
    return "".join(c for c in text if c not in punctuation)


def squad_remove_articles(text):
    return re.sub(r"\b(a|an|the)\b", " ", text)


def squad_collapse_whitespace(text):
    return " ".join(text.split())


def normalize(text, lowercase=True, strip_punctuation=True, remove_articles=True, collapse_whitespace=True):
    if lowercase:
        text = squad_lower(text)
    if strip_punctuation:
        text = squad_strip_punctuation(text)
    if remove_articles:
        text = squad_remove_articles(text)
    if collapse_whitespace:
        text = squad_collapse_whitespace(text)
    return text


def squad_f1(prediction, truth):
    prediction_tokens = normalize(prediction).split()
    truth_tokens = normalize(truth).split()
    same = sum((Counter(prediction_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction, truth):
    return 1.0 if normalize(prediction) == normalize(truth) else 0.0


# --- shared texts -------------------------------------------------------------------------------

TEXTS = [
    "The cat sat on the mat.",
    "the cat is sitting on a mat",
    "A quick brown fox jumps over the lazy dog!",
    "Quick brown foxes jumped over lazy dogs.",
    "",
    "   ",
    "Hello, world! Hello, world!",
    "hello hello hello world",
    "Numbers: 3.14, 2,000 and 1-2-3 (approx.) cost $5.00.",
    "It's 10:30 a.m. -- the meeting's over; see https://example.com/a?b=c&d=e.",
    "Café naïve résumé — Ünïcödé façade coöperate",
    "Ελληνικά κείμενα και 日本語のテキスト 🙂 emoji",
    "The running runners ran; they runs and running happily, generously, relational conditional.",
    "Universities generalization electrical adjustments controlling hopefulness",
    "An apple a day keeps the doctor away",
    "the the the the",
    "Paris",
    "paris is the capital of france",
    "The capital of France is Paris.",
    "&quot;quoted&quot; &amp; &lt;tagged&gt; <skipped> text",
    "line one-\nline two\nline three",
    "U.S.A. vs. U.K., e.g. i.e. etc.",
    "tab\tseparated\tvalues\n and\u00a0non-breaking\u2003spaces",
    "Don't stop-believing! Hold-on to that feel-ing...",
    "x",
    "99 bottles of beer on the wall, 99 bottles of beer.",
    "Theory of relativity: E = mc^2 (Einstein, 1905)",
    "ＦＵＬＬＷＩＤＴＨ letters and İstanbul KELVIN\u212a",
]


def exact_match_cases():
    option_sets = [
        dict(lowercase=True, strip_punctuation=True, remove_articles=True, collapse_whitespace=True),
        dict(lowercase=False, strip_punctuation=False, remove_articles=False, collapse_whitespace=False),
        dict(lowercase=True, strip_punctuation=False, remove_articles=False, collapse_whitespace=False),
        dict(lowercase=False, strip_punctuation=True, remove_articles=False, collapse_whitespace=True),
        dict(lowercase=True, strip_punctuation=False, remove_articles=True, collapse_whitespace=True),
        dict(lowercase=False, strip_punctuation=False, remove_articles=True, collapse_whitespace=False),
    ]
    pairs = [
        ("The Cat", "cat"), ("the cat.", "The  cat"), ("Paris", "paris"), ("  Paris ", "Paris"),
        ("An answer!", "answer"), ("A", ""), ("", ""), ("theory", "ory"), ("Hello, World", "hello world"),
        ("Café", "CAFÉ"), ("İstanbul", "i̇stanbul"), ("a-b", "ab"), ("don't", "dont"), ("The the", ""),
        ("anthem", "anthem"), ("42", "42.0"), ("the\tend", "end"), ("ΣΊΣΥΦΟΣ", "σίσυφος"),
        ("snake_case", "snakecase"), ("an_apple", "an apple"), ("x\u00a0y", "x y"), ("x\x1fy", "x y"),
    ]
    cases = []
    for index, (prediction, reference) in enumerate(pairs):
        options = option_sets[index % len(option_sets)]
        for chosen in [options] if options == option_sets[0] else [options, option_sets[0]]:
            cases.append({
                "prediction": prediction,
                "reference": reference,
                "options": chosen,
                "normalized_prediction": normalize(prediction, **chosen),
                "expected": normalize(prediction, **chosen) == normalize(reference, **chosen),
            })
    return cases


def contains_cases():
    pairs = [
        ("Hello World", "world"), ("Hello World", "World"), ("abc", ""), ("", ""), ("", "a"),
        ("The answer is 42.", "42"), ("STRASSE", "straße"), ("Café au lait", "CAFÉ"),
        ("İstanbul", "i̇stan"), ("ΣΊΣΥΦΟΣ", "σίσυφος"), ("foo bar", "foo  bar"), ("emoji 🙂!", "🙂"),
        ("Line\nbreak", "line\nBREAK"), ("abcabc", "cab"), ("aaa", "aaaa"), ("Mixed CASE", "mixed case"),
        ("tab\there", "TAB\tHERE"), ("numbers 1234", "23"), ("KELVIN\u212a", "kelvink"), ("ǅemal", "ǆ"),
    ]
    return [
        {"output": o, "expected_text": e, "case_sensitive": cs,
         "expected": (e in o) if cs else (e.lower() in o.lower())}
        for o, e in pairs for cs in (True, False)
    ]


def regex_cases():
    pairs = [
        (r"^\d{3}-\d{4}$", "555-1234"), (r"^\d{3}-\d{4}$", "555-12345"), (r"cat", "concatenate"),
        (r"^cat$", "concatenate"), (r"(?i)HELLO", "hello there"), (r"colou?r", "The color red"),
        (r"\bthe\b", "other"), (r"\bthe\b", "in the end"), (r"[A-Z]{2,}", "abc DEF"), (r"a.c", "a\nc"),
        (r"(?s)a.c", "a\nc"), (r"^$", ""), (r"x*", "yyy"), (r"\s+$", "trailing  "), (r"^[a-z]+@[a-z]+\.com$", "me@example.com"),
        (r"^[a-z]+@[a-z]+\.com$", "Me@example.com"), (r"(foo|bar)baz", "xbarbaz"), (r"\d+\.\d+", "pi is 3.14"),
        (r"^\{.*\}$", '{"a": 1}'), (r"é", "café"), (r"(?m)^second$", "first\nsecond\nthird"), (r"[^\x00-\x7f]", "ascii only"),
    ]
    return [{"pattern": p, "text": t, "expected": re.search(p, t) is not None} for p, t in pairs]


def strict_json_valid(text):
    def reject(constant):
        raise ValueError(constant)
    try:
        json.loads(text, parse_constant=reject)
        return True
    except ValueError:
        return False


def json_cases():
    texts = [
        '{"a": 1}', "[1, 2, 3]", '"string"', "42", "-0.5e10", "true", "null", "  {\"a\": [1, {\"b\": null}]}  ",
        '{"a": 1,}', "[1, 2", "{'a': 1}", "", "   ", "NaN", "Infinity", '{"a": NaN}', "01", "1.", ".5",
        '{"a": 1} {"b": 2}', '{"a": "\\u00e9"}', '{"a": "tab\there"}', '{"a":"ok"}\n', "[]", "{}", '{"a": 1 /* c */}',
        '"unterminated', "tru", '{"key": "Ünïcödé 🙂"}',
    ]
    return [{"text": t, "expected": strict_json_valid(t)} for t in texts]


def classification_cases():
    rng = random.Random(7)
    cases = [
        (["a", "a", "b", "c"], ["a", "b", "b", "b"]),
        (["cat", "dog", "cat", "bird"], ["cat", "dog", "cat", "bird"]),
        (["x"], ["y"]),
        (["x"], ["x"]),
        (["pos", "neg", "pos", "pos", "neg"], ["neg", "neg", "pos", "pos", "pos"]),
        (["B", "a", "10", "9", "b"], ["a", "B", "9", "9", "b"]),
        (["spam"] * 9 + ["ham"], ["spam"] * 10),
        (["ham"] * 3 + ["spam"] * 3, ["spam"] * 3 + ["ham"] * 3),
        (["é", "e", "ê", "é"], ["e", "e", "ê", "é"]),
        (["a", "b"], ["c", "d"]),
    ]
    labels = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    for size in (5, 12, 30, 50, 100, 200, 333, 64, 7, 250, 40, 20):
        weights = [rng.random() ** 3 for _ in labels]
        classes = labels[: rng.randint(2, len(labels))]
        y_true = rng.choices(classes, weights=weights[: len(classes)], k=size)
        never_predicted = rng.choice(classes)
        y_pred = [t if rng.random() < 0.6 else rng.choice(classes) for t in y_true]
        y_pred = [p if p != never_predicted else rng.choice([c for c in classes if c != never_predicted]) for p in y_pred]
        if rng.random() < 0.4:
            y_pred[0] = "unseen"
        cases.append((y_true, y_pred))
    out = []
    for y_true, y_pred in cases:
        entry = {"y_true": y_true, "y_pred": y_pred, "accuracy": accuracy_score(y_true, y_pred)}
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
        entry["labels"] = sorted(set(y_true) | set(y_pred))
        entry["per_class"] = {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}
        for average in ("micro", "macro", "weighted"):
            p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
            entry[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
        out.append(entry)
    return out


def squad_cases():
    groups = [
        ("Paris", ["Paris", "paris, France"]), ("the Eiffel Tower", ["Eiffel Tower"]),
        ("in 1889", ["1889", "the year 1889"]), ("", [""]), ("", ["something"]), ("answer", [""]),
        ("a cat cat", ["the cat"]), ("Denver Broncos", ["Denver Broncos", "The Denver Broncos", "Broncos"]),
        ("Santa Clara, California", ["Santa Clara", "Levi's Stadium"]), ("the the the", ["a an the"]),
        ("Ünïcödé café", ["unicode cafe", "Ünïcödé CAFÉ"]), ("3.14159", ["3.14", "pi"]),
        ("Don't know", ["do not know", "dont know"]), ("New York City, NY", ["new york", "NYC"]),
        ("red blue green", ["green blue red"]), ("one two three four", ["two", "one two", "five"]),
        ("Σίσυφος myth", ["ΣΊΣΥΦΟΣ"]), ("snake_case word", ["snakecase word"]),
        ("x\u00a0y z", ["x y"]), ("The quick brown fox", ["A quick brown fox jumps", "fox"]),
        ("An apple.", ["apple"]), ("(approx.) 5,000 people", ["5000 people", "about 5,000"]),
    ]
    return [
        {"prediction": p, "ground_truths": g,
         "exact_match": max(squad_em(p, t) for t in g), "f1": max(squad_f1(p, t) for t in g),
         "normalized_prediction": normalize(p)}
        for p, g in groups
    ]


def bleu_entry(result):
    return {"score": result.score, "precisions": list(result.precisions), "brevity_penalty": result.bp,
            "sys_len": result.sys_len, "ref_len": result.ref_len}


def sentence_bleu_cases():
    rng = random.Random(11)
    cases = [
        ("The cat sat on the mat.", ["The cat sat on the mat."]),
        ("The cat sat on the mat.", ["The cat is on the mat.", "There is a cat on the mat."]),
        ("", ["Something."]), ("Something.", [""]), ("", [""]),
        ("cat", ["cat"]), ("the the the the the the the", ["The cat is on the mat."]),
        ("It costs $3.50, or 3,000 yen (approx.).", ["It costs 3.50 dollars, about 3,000 yen."]),
        ("&quot;Hello&quot; &amp; goodbye", ['"Hello" & goodbye']),
        ("line one-\nline two", ["lineline two"]), ("A B C D", ["a b c d"]),
        ("Ünïcödé café — naïve", ["Ünïcödé café - naïve", "unicode cafe"]),
        ("2-3 people came at 10:30.", ["Two to three people came at 10:30."]),
        ("short", ["this reference is considerably longer than the hypothesis"]),
        ("this hypothesis is considerably longer than its rather short reference", ["short reference"]),
        ("word " * 30, ["word " * 10, "word " * 25, "word " * 40]),
        ("trailing space   ", ["trailing space"]), ("1.5.6,7.a,b", ["1.5.6 , 7 . a , b"]),
    ]
    for _ in range(8):
        base = rng.choice([t for t in TEXTS if t.strip()])
        words = base.split()
        hyp = " ".join(w for w in words if rng.random() < 0.8)
        refs = [base] + [" ".join(rng.sample(words, len(words))) for _ in range(rng.randint(0, 2))]
        cases.append((hyp, refs))
    return [{"hypothesis": h, "references": r, **bleu_entry(sacrebleu.sentence_bleu(h, r))} for h, r in cases]


def corpus_bleu_cases():
    rng = random.Random(13)
    texts = [t for t in TEXTS if t.strip()]
    cases = []
    for index in range(22):
        size = rng.randint(1, 8)
        hypotheses, references = [], []
        for _ in range(size):
            base = rng.choice(texts)
            words = base.split()
            hypotheses.append(" ".join(w for w in words if rng.random() < 0.75) if index % 5 else rng.choice(texts))
            refs = [base]
            for _ in range(rng.randint(0, 2)):
                refs.append(" ".join(rng.sample(words, len(words))))
            references.append(refs)
        cases.append((hypotheses, references))
    cases.append((["", ""], [["a b c"], ["d"]]))
    cases.append((["a b c d e", "f g"], [["a b c d e"], ["f g"]]))
    cases.append((["x y"], [["z w", "x y z w v"]]))
    out = []
    for hypotheses, references in cases:
        streams = max(len(r) for r in references)
        # sacrebleu takes reference streams; None marks a hypothesis with fewer references.
        stream_refs = [[refs[k] if k < len(refs) else None for refs in references] for k in range(streams)]
        result = sacrebleu.corpus_bleu(hypotheses, stream_refs)
        out.append({"hypotheses": hypotheses, "references": references, **bleu_entry(result)})
    return out


def rouge_cases():
    rng = random.Random(17)
    pairs = [
        ("The cat sat on the mat.", "The cat is sitting on the mat."), ("", "anything"), ("anything", ""), ("", ""),
        ("the the the", "the"), ("a b a b a b", "b a b a"), ("Running runners ran quickly", "the runner runs quick"),
        ("generously relational conditional", "generous relate condition"), ("Café naïve", "cafe naive"),
        ("2024-01-01 release v1.2.3", "release 2024 v1 2 3"), ("¿¡ 🙂 !?", "..."),
        ("İstanbul KELVIN\u212a", "istanbul kelvink"), ("abc", "abc"),
        ("universities controlling hopefulness", "university controls hopeful"),
        ("police policy polices", "police policies"), ("sky skies dying lying", "sky sky die lie"),
    ]
    for _ in range(10):
        a, b = rng.sample(TEXTS, 2)
        pairs.append((a, b))
    scorers = {stem: rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem) for stem in (False, True)}
    out = []
    for target, prediction in pairs:
        for stem, scorer in scorers.items():
            scores = scorer.score(target, prediction)
            out.append({"target": target, "prediction": prediction, "use_stemmer": stem,
                        **{k: [v.precision, v.recall, v.fmeasure] for k, v in scores.items()}})
    return out


PORTER_WORDS = """
caresses ponies ties dies caress cats feed agreed plastered bled motoring sing conflated troubled
sized hopping tanned falling hissing fizzed failing filing happy sky skies relational conditional
rational valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli
vietnamization predication operator feudalism decisiveness hopefulness callousness formaliti
sensitiviti sensibiliti triplicate formative formalize electriciti electrical hopeful goodness
revival allowance inference airliner gyroscopic adjustable defensible irritant replacement
adjustment dependent adoption homologou communism activate angulariti homologous effective
bowdlerize probate rate cease controll roll generalization generously dying lying tying news
innings inning outings outing cannings canning howe proceed exceed succeed geology theology
archaeology hopefulli carefulli generalli fulli logi cried spied died tied owing axed oxen
running runner runs ran quickly quick policy policies police universities university
controls controlling controlled hopefully happiness abilities ability argued arguing
yelling yelled saying says played playing eyed eying flying flies flied crying cries dryer
feeling feelings agreement agreements meeting meetings sensational traditional traditionally
misspelled processing processes processed hugging hugged buzzing buzzed fizzing
colonization nationalism organizational personalities responsibility reliability availability
""".split()


def porter_cases():
    stemmer = PorterStemmer()
    words = sorted(set(PORTER_WORDS))
    return [{"word": w, "stem": stemmer.stem(w)} for w in words]


def levenshtein_cases():
    pairs = [
        ("", ""), ("abc", ""), ("", "abc"), ("kitten", "sitting"), ("flaw", "lawn"), ("same", "same"),
        ("Café", "Cafe"), ("🙂🙃", "🙃🙂"), ("日本語", "日本"), ("a" * 50, "a" * 49 + "b"), ("abc", "cba"),
        ("The cat sat on the mat.", "The cat is sitting on the mat."), ("Ünïcödé", "Unicode"), ("ab", "ba"),
        ("x", "y"), ("saturday", "sunday"), ("intention", "execution"), ("a b c", "abc"), ("AAA", "aaa"),
        ("line\nbreak", "line break"), ("short", "a much longer string than short"), ("e\u0301", "é"),
    ]
    # Strings longer than 64 characters exercise the multi-word (blocked) bit-parallel path.
    rng = random.Random(23)
    alphabet = "abcdeé日 🙂"
    for length in (63, 64, 65, 128, 129, 200, 500):
        a = "".join(rng.choice(alphabet) for _ in range(length))
        b = "".join(c if rng.random() < 0.8 else rng.choice(alphabet) for c in a if rng.random() < 0.9)
        pairs.append((a, b))
    pairs.append((TEXTS[12] * 3, TEXTS[13] * 3))
    return [{"a": a, "b": b, "expected": Levenshtein.normalized_similarity(a, b)} for a, b in pairs]


def cosine_cases():
    rng = np.random.default_rng(19)
    pairs = [([1, 0], [1, 1]), ([1, 2, 3], [1, 2, 3]), ([1, 2, 3], [-1, -2, -3]), ([1, 0], [0, 1]),
             ([0.1, 0.2], [1000, 2000.5]), ([1e-20, 1e-20], [1e-20, -1e-20]), ([3.5], [-0.25])]
    for dim in (2, 3, 8, 16, 64, 128, 384, 5, 1, 4, 32, 10, 6, 2):
        a = rng.standard_normal(dim).astype(np.float32)
        b = (a * rng.uniform(-1, 1) + rng.standard_normal(dim).astype(np.float32) * rng.uniform(0, 2)).astype(np.float32)
        pairs.append((a.tolist(), b.tolist()))
    out = []
    for a, b in pairs:
        a32 = np.asarray(a, dtype=np.float32).astype(np.float64)
        b32 = np.asarray(b, dtype=np.float32).astype(np.float64)
        expected = float(np.dot(a32, b32) / (np.linalg.norm(a32) * np.linalg.norm(b32)))
        out.append({"a": a32.tolist(), "b": b32.tolist(), "expected": expected})
    return out


def main():
    fixture = {
        "generated_by": "scripts/eval_reference/generate.py",
        "versions": {name: version(name) for name in ("sacrebleu", "rouge-score", "scikit-learn", "nltk", "rapidfuzz", "numpy")},
        "python": sys.version.split()[0],
        "exact_match": exact_match_cases(),
        "contains": contains_cases(),
        "regex": regex_cases(),
        "json_valid": json_cases(),
        "classification": classification_cases(),
        "squad": squad_cases(),
        "sentence_bleu": sentence_bleu_cases(),
        "corpus_bleu": corpus_bleu_cases(),
        "rouge": rouge_cases(),
        "porter": porter_cases(),
        "levenshtein": levenshtein_cases(),
        "cosine": cosine_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One case a line: small diffs when a reference package changes, and a file that stays readable.
    lines = []
    for key, value in fixture.items():
        if isinstance(value, list):
            cases = ",\n".join("  " + json.dumps(case, ensure_ascii=False) for case in value)
            lines.append(f" {json.dumps(key)}: [\n{cases}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    counts = {k: len(v) for k, v in fixture.items() if isinstance(v, list)}
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
