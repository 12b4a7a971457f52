#!/usr/bin/env python3
"""Build examples/data/wordnet_verbs.tsv.xz: WordNet verb glosses labelled with their hypernyms.

One line per verb synset of WordNet 3.0: ``label1,label2,...<TAB>gloss``. The labels are the
synset's hypernym ancestors (transitive closure over '@' pointers, the synset itself
excluded), named ``first_lemma.v.offset`` (e.g. ``move.v.01835496``), minus those of more than
20% of the synsets, kept when they label at least 2 synsets. The gloss (definition and
examples) loses every word of a lemma of the synset or of its ancestors, and their plurals
('move', 'moves'), so that it does not give its labels away. Synsets left without labels or
words are dropped.

Rebuild (Debian/Ubuntu; the database is the wordnet-base package):
    apt-get install -y wordnet-base
    python3 examples/make_wordnet_glosses.py [WORDNET_DIR=/usr/share/wordnet]

The output is derived from the WordNet 3.0 database and goes with its license (the notice
is reproduced in examples/data/WORDNET_LICENSE): "WordNet 3.0 Copyright 2006 by Princeton
University. All rights reserved." The name of Princeton University or Princeton may not be
used in advertising or publicity pertaining to distribution of the software and/or database.
"""

from __future__ import annotations

import collections
import lzma
import re
import sys
from pathlib import Path

TRIVIAL = 0.20  # an ancestor of more than this share of the synsets is not a label
WORD = re.compile(r"[a-z][a-z'-]+")


def main() -> None:
    wn = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    synsets = {}  # offset -> (lemmas, hypernym offsets, gloss)
    with open(wn / "data.verb", encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):
                continue  # license header
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            offset, n_words = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower() for i in range(n_words)]
            rest = fields[4 + 2 * n_words :]
            n_ptrs = int(rest[0])
            hypernyms = [rest[1 + 4 * i + 1] for i in range(n_ptrs) if rest[1 + 4 * i] == "@"]
            synsets[offset] = (lemmas, hypernyms, gloss.strip())

    ancestors: dict[str, set[str]] = {}

    def up(offset: str) -> set[str]:
        if offset not in ancestors:
            ancestors[offset] = set()  # a cycle guard; WordNet's hypernyms are acyclic
            found = set()
            for parent in synsets[offset][1]:
                found |= {parent} | up(parent)
            ancestors[offset] = found
        return ancestors[offset]

    for offset in synsets:
        up(offset)
    counts = collections.Counter(a for found in ancestors.values() for a in found)
    keep = {a for a, c in counts.items() if 2 <= c <= TRIVIAL * len(synsets)}

    def name(offset: str) -> str:
        return f"{synsets[offset][0][0]}.v.{offset}"

    lines = []
    for offset in sorted(synsets):
        labels = sorted(name(a) for a in ancestors[offset] & keep)
        banned = set()
        for o in ancestors[offset] | {offset}:
            for lemma in synsets[o][0]:
                for part in re.split(r"[_-]", lemma.split("(")[0]):
                    banned |= {part, part + "s", part + "es", part + "d", part + "ed", part + "ing"}
        words = [w for w in WORD.findall(synsets[offset][2].lower()) if w not in banned]
        if labels and words:
            lines.append(",".join(labels) + "\t" + " ".join(words) + "\n")
    out = Path(__file__).resolve().parent / "data" / "wordnet_verbs.tsv.xz"
    out.parent.mkdir(exist_ok=True)
    with lzma.open(out, "wt", encoding="utf-8", preset=9) as fh:
        fh.writelines(lines)
    n_labels = len({label for line in lines for label in line.split("\t")[0].split(",")})
    print(f"{out}: {len(lines)} documents, {n_labels} labels")


if __name__ == "__main__":
    main()
