"""What the benchmark scripts share: the datasets by name, held-out splits of training sets,
and the process's peak memory. Scripts import it as ``from _common import ...`` (they put
their own folder on ``sys.path``)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SLEEC_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
VERBS = HERE.parent / "examples" / "data" / "wordnet_verbs.tsv.xz"

__all__ = ["SHARED", "holdout_split", "load_dataset", "load_training_set", "peak_rss_mb"]


def load_dataset(name: str):
    """(X_train, Y_train, X_test, Y_test) for bibtex, delicious, wordnet, verbs,
    synthetic:N[:SEED] (make_xmc with N training points, N/5 test points, max(100,
    min(10^5, N/10)) labels, random_state SEED, default 0) or TRAIN,TEST (two XC files)."""
    from sleec import datasets

    if name == "bibtex":
        return datasets.load_bibtex()
    if name == "delicious":
        d = SHARED / "delicious"
        return datasets.read_xc_split(
            d / "Delicious_data.txt.xz",
            d / "delicious_trSplit.txt.xz",
            d / "delicious_tstSplit.txt.xz",
            column=1,
        )
    if name == "wordnet":
        d = SHARED / "wordnet"
        return (
            *datasets.read_xc(d / "wordnet_train.txt.xz"),
            *datasets.read_xc(d / "wordnet_test.txt.xz"),
        )
    if name == "verbs":
        return _verbs()
    if name.startswith("synthetic:"):
        size, _, seed = name.split(":", 1)[1].partition(":")
        n = int(float(size))
        n_labels = max(100, min(100_000, n // 10))
        X, Y = datasets.make_xmc(n + n // 5, 20_000, n_labels, random_state=int(seed or 0))
        return X[:n], Y[:n], X[n:], Y[n:]
    train, test = name.split(",")
    return (*datasets.read_xc(train), *datasets.read_xc(test))


def load_training_set(name: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The training part of a dataset: the test part is never read for selection."""
    X, Y, _, _ = load_dataset(name)
    return X, Y


def _verbs():
    """The verb glosses split as examples/wordnet_glosses.py splits them (80/20, seed 0),
    tf-idf (sublinear tf, words of >= 2 documents) fitted on the training part, labels as a
    matrix over every label name of the corpus."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import MultiLabelBinarizer

    from sleec.datasets import read_text

    docs, tags = read_text(VERBS)
    order = np.random.default_rng(0).permutation(len(docs))
    cut = int(0.8 * len(docs))
    train, test = np.sort(order[:cut]), np.sort(order[cut:])
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32)
    X_train = vec.fit_transform([docs[i] for i in train])
    X_test = vec.transform([docs[i] for i in test])
    mlb = MultiLabelBinarizer(sparse_output=True).fit(tags)
    Y = sp.csr_matrix(mlb.transform(tags), dtype=np.float32)
    return X_train, Y[train], X_test, Y[test]


def holdout_split(n_rows: int, split: int, share: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (fit, validation) of held-out split ``split`` of ``n_rows`` rows
    (seed ``100 + split``; rows keep their file order, on which the k-means start depends)."""
    perm = np.random.default_rng(100 + split).permutation(n_rows)
    cut = int(share * n_rows)
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def peak_rss_mb() -> int:
    """The process's peak resident memory so far, MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
