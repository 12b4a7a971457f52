"""Shared fixtures: a seeded RNG, a planted toy XMC problem, the real data's location, and
the tiny models and files of the input, file and error tests (plain helpers: _helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from _helpers import TINY, TINY_SEEDED, make_data
from sleec import SLEEC
from sleec.datasets import write_xc

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("SLEEC_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def shared_data() -> Path:
    """Directory of the real datasets; skips the test when it is not beside the repository."""
    if not (SHARED_DATA / "bibtex").is_dir():
        pytest.skip(
            f"real benchmark data not found at {SHARED_DATA} "
            "(set SLEEC_SHARED_DATA or place ../shared/data beside the repository)"
        )
    return SHARED_DATA


# ------------------------------------------------------------------------------- toy data
# The authors' method alone: no second stage (tests of the neighbour votes themselves).
NO_STAGE = {"shortlist_votes": 0, "shortlist_centroids": 0}
# A small ensemble (2 learners of 2 clusters) for tests of the votes behind predictions.
TOY_ENSEMBLE = {
    "n_learners": 2,
    "n_clusters": 2,
    "n_components": 10,
    "n_graph_neighbors": 10,
    "n_neighbors": 5,
    **NO_STAGE,
}
TOY_GROUPS, TOY_WORDS, TOY_LABELS, TOY_NOISE_WORDS = 4, 15, 5, 40
TOY_N_LABELS = TOY_GROUPS * TOY_LABELS
TOY_N_FEATURES = TOY_GROUPS * TOY_WORDS + TOY_NOISE_WORDS


def make_toy_xmc(n: int, seed: int = 0):
    """A planted toy problem with 4 groups. Features: 2 of the group's 15 words + 6 of 40
    shared noise words. Labels: the group's anchor label always, each of its 4 other labels
    with probability 1/2, and a random label (any group) for 10% of the points.

    Returns X (n, 100), Y (n, 20) as float32 CSR and the group (n,) of each point.
    """
    rng = np.random.default_rng(seed)
    group = rng.integers(0, TOY_GROUPS, n)
    X = np.zeros((n, TOY_N_FEATURES), np.float32)
    Y = np.zeros((n, TOY_N_LABELS), np.float32)
    for i, g in enumerate(group):
        X[i, g * TOY_WORDS + rng.choice(TOY_WORDS, 2, replace=False)] = rng.uniform(0.5, 1.5, 2)
        X[i, TOY_GROUPS * TOY_WORDS + rng.choice(TOY_NOISE_WORDS, 6, replace=False)] = rng.uniform(
            0.5, 1.5, 6
        )
        Y[i, g * TOY_LABELS] = 1
        Y[i, g * TOY_LABELS + 1 + np.flatnonzero(rng.random(TOY_LABELS - 1) < 0.5)] = 1
        if rng.random() < 0.1:
            Y[i, rng.integers(TOY_N_LABELS)] = 1
    return sp.csr_matrix(X), sp.csr_matrix(Y), group


@pytest.fixture(scope="session")
def toy_xmc():
    """600 planted points split 400 / 200: ``(X_train, Y_train, X_test, Y_test, test_groups)``.
    Treat as read-only (shared by the whole session)."""
    X, Y, group = make_toy_xmc(600, seed=0)
    return X[:400], Y[:400], X[400:], Y[400:], group[400:]


# ------------------------------------------------------------------ tiny models and files
# Module-scoped: each test module that asks gets its own copy (treat them as read-only).
@pytest.fixture(scope="module")
def tiny_data():
    """``make_data()``: 30 points, 12 features, 6 labels (``_helpers.N, D, L``)."""
    return make_data()


@pytest.fixture(scope="module")
def tiny_model(tiny_data):
    """A SLEEC with ``TINY_SEEDED`` fitted on ``tiny_data``."""
    X, Y = tiny_data
    return SLEEC(**TINY_SEEDED).fit(X, Y)


@pytest.fixture(scope="module")
def trained_files(tmp_path_factory) -> Path:
    """A directory with ``train.txt`` (60 points, 12 features, 5 labels), ``test.txt`` (its
    first 10 points) and ``model.npz`` (``TINY``, random_state=0, fitted on train.txt)."""
    d = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    X = sp.random(60, 12, density=0.4, random_state=1, format="csr", dtype=np.float32)
    Yd = (rng.random((60, 5)) < 0.4).astype(np.float32)
    Yd[np.arange(60), rng.integers(0, 5, 60)] = 1
    Y = sp.csr_matrix(Yd)
    write_xc(d / "train.txt", X, Y)
    write_xc(d / "test.txt", X[:10], Y[:10])
    model = SLEEC(**TINY, random_state=0).fit(X, Y)
    model.save(d / "model.npz")
    return d
