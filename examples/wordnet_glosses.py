#!/usr/bin/env python3
"""From raw text and label names to predictions, on a real corpus shipped with sleec.

The corpus (examples/data/wordnet_verbs.tsv.xz, built by make_wordnet_glosses.py from
WordNet 3.0): 13070 verb glosses, each labelled with its hypernym ancestors (2023 labels,
e.g. 'change.v.00109660'), the glosses stripped of the words that would give them away.

    python examples/wordnet_glosses.py

Reads the file, splits it 80/20 (seeded), fits TfidfVectorizer + SLEEC, reports P@1/3/5 and
nDCG@5 on the held-out part, shows a few predictions, and saves and reloads the pipeline as
one file without pickle.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from sleec import SLEEC
from sleec.datasets import read_text
from sleec.scoring import xmc_scorer
from sleec.text import load_pipeline, predict_text, save_pipeline

DATA = Path(__file__).resolve().parent / "data" / "wordnet_verbs.tsv.xz"


def main() -> None:
    docs, tags = read_text(DATA)
    order = np.random.default_rng(0).permutation(len(docs))
    cut = int(0.8 * len(docs))
    train, test = order[:cut], order[cut:]
    pipe = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2), SLEEC(random_state=0, n_jobs=-1)
    )
    start = time.perf_counter()
    pipe.fit([docs[i] for i in train], [tags[i] for i in train])
    print(
        f"trained on {len(train)} glosses, {pipe[-1].n_labels_} labels, "
        f"{pipe[-1].n_features_in_} words in {time.perf_counter() - start:.1f} s"
    )
    test_docs, test_tags = [docs[i] for i in test], [tags[i] for i in test]
    for name in ("precision@1", "precision@3", "precision@5", "ndcg@5"):
        print(f"  {name:12s} {100 * xmc_scorer(name)(pipe, test_docs, test_tags):6.2f}")
    names, scores = predict_text(pipe, test_docs[:3], k=3)
    for doc, truth, row, score in zip(test_docs[:3], test_tags[:3], names, scores, strict=True):
        print(f"\n  {doc!r}\n    true:      {', '.join(truth)}")
        print(
            "    predicted: " + ", ".join(f"{n} ({s:.2f})" for n, s in zip(row, score, strict=True))
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wordnet_verbs.sleec.npz"
        save_pipeline(pipe, path)
        again = load_pipeline(path)
        same = predict_text(again, test_docs, 5) == predict_text(pipe, test_docs, 5)
        print(
            f"\nsaved and reloaded ({path.stat().st_size / 1e6:.1f} MB, no pickle): "
            f"{'same predictions' if same else 'DIFFERENT predictions'}"
        )


if __name__ == "__main__":
    main()
