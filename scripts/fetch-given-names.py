#!/usr/bin/env python3
"""Fetches the given-name lexicon the PII scanner uses to find person names without a cue.

The names are the first-name lists of the `faker` package (PyPI, MIT) for the locales below,
read from its provider modules without importing it. They are data, so they are fetched
(scripts/setup.sh runs this) rather than kept in git; a build without the file still works,
with person names found from context cues only.

Usage: scripts/fetch-given-names.py [OUT]  (default crates/gantry-core/lexicons/given_names.txt)
"""

import ast
import glob
import os
import re
import subprocess
import sys
import tempfile
import zipfile

FAKER = "faker==40.63.0"
LOCALES = [
    "en_US", "en_GB", "en_IE", "en_IN", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "nl_NL",
    "sv_SE", "da_DK", "no_NO", "fi_FI", "pt_BR", "tr_TR", "ar_AA", "hi_IN", "yo_NG", "cs_CZ",
    "ro_RO", "hu_HU", "id_ID",
]
# One capitalised word of letters, with inner apostrophes or hyphens ("D'Arcy", "Anne-Marie").
NAME = re.compile(r"^[^\W\d_][^\W\d_'-]*(?:['-][^\W\d_]+)*$")


def first_names(source):
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id.startswith("first_name"):
                for leaf in ast.walk(node.value):
                    if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                        names.add(leaf.value.strip())
    return {n for n in names if len(n) > 1 and n[0].isupper() and NAME.match(n)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "crates/gantry-core/lexicons/given_names.txt"
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", work, FAKER], check=True)
        wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
        names = set()
        for locale in LOCALES:
            path = f"faker/providers/person/{locale}/__init__.py"
            if path in wheel.namelist():
                names |= first_names(wheel.read(path).decode("utf-8"))
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(sorted(names)) + "\n")
    os.replace(out + ".tmp", out)
    print(f"wrote {out}: {len(names)} given names")


if __name__ == "__main__":
    main()
