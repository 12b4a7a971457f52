"""Synthetic extreme multi-label data with realistic structure, at any size (``make_xmc``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _sparse, _validation

__all__ = ["make_xmc"]


def make_xmc(
    n_samples: int,
    n_features: int,
    n_labels: int,
    *,
    avg_labels_per_point: float = 5.0,
    avg_features_per_point: float = 50.0,
    n_communities: int | None = None,
    power_law_exponent: float = 1.0,
    noise: float = 0.1,
    random_state: Any = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Generate a synthetic extreme multi-label data set with realistic structure.

    Label frequencies follow a Zipf law (``p(rank r) ~ r**-power_law_exponent``, ids shuffled).
    Labels form co-occurrence communities: a point picks one community (by its total
    popularity) and draws about ``avg_labels_per_point`` labels (Poisson) from it by popularity;
    with probability ``noise`` a draw comes from all labels instead. Labels are distinct and
    a few points (Poisson zeros) get no labels. Each label owns a small set of characteristic
    words, a third shared with its community's vocabulary; a point's words come from its
    labels' word sets (a label's first words more often), or with probability ``noise`` from a
    Zipf background vocabulary. Draws continue until the point has about its target number of
    distinct words (Poisson, mean ``avg_features_per_point``, at least one); repeated draws
    give the term frequencies. Values are tf-idf, ``(1 + log tf) * (log((1 + n) / (1 + df)) +
    1)``, and rows are L2-normalised.

    Parameters
    ----------
    n_samples, n_features, n_labels : int
        Output sizes (positive).
    avg_labels_per_point : float, default=5.0
        Mean number of labels per point (somewhat fewer when communities are small).
    avg_features_per_point : float, default=50.0
        Mean number of distinct features (non-zeros) per point (slightly fewer in practice).
    n_communities : int, optional
        Number of label communities (default ``round(sqrt(n_labels))``), at most ``n_labels``.
    power_law_exponent : float, default=1.0
        Zipf exponent of the label (and background word) frequencies; 0 gives uniform.
    noise : float, default=0.1
        Probability that a label draw ignores the community and that a word is background.
    random_state : int, numpy Generator or RandomState, or None
        Seed; the same seed gives the same data.

    Returns
    -------
    X : csr_matrix of float32, shape (n_samples, n_features)
        tf-idf features, rows with unit L2 norm, sorted indices.
    Y : csr_matrix of float32, shape (n_samples, n_labels)
        Binary labels, sorted indices.
    """
    owner = "make_xmc"
    n = _validation.check_int(n_samples, "n_samples", low=1, owner=owner)
    D = _validation.check_int(n_features, "n_features", low=1, high=_sparse.INT32_MAX, owner=owner)
    L = _validation.check_int(n_labels, "n_labels", low=1, high=_sparse.INT32_MAX, owner=owner)
    lam_y = _validation.check_float(
        avg_labels_per_point, "avg_labels_per_point", low=0, low_open=True, owner=owner
    )
    lam_x = _validation.check_float(
        avg_features_per_point, "avg_features_per_point", low=0, low_open=True, owner=owner
    )
    C = (
        max(1, round(L**0.5))
        if n_communities is None
        else _validation.check_int(n_communities, "n_communities", low=1, high=L, owner=owner)
    )
    alpha = _validation.check_float(power_law_exponent, "power_law_exponent", low=0, owner=owner)
    noise = _validation.check_float(noise, "noise", low=0, high=1, owner=owner)
    rng = _as_generator(random_state)

    # labels: Zipf popularity under shuffled ids, every community non-empty
    label_w = np.empty(L)
    label_w[rng.permutation(L)] = np.arange(1, L + 1, dtype=np.float64) ** -alpha
    comm = rng.permutation(np.arange(L) % C)
    by_comm = np.argsort(comm, kind="stable")
    cum = np.cumsum(label_w[by_comm])
    bounds = np.searchsorted(comm[by_comm], np.arange(C + 1))
    comm_lo = np.concatenate([[0.0], cum])[bounds[:-1]]
    comm_w = cum[bounds[1:] - 1] - comm_lo
    comm_cdf = np.cumsum(comm_w) / cum[-1]
    # words: Zipf background, community vocabularies, per-label characteristic sets
    word_cdf = np.cumsum(rng.permutation(np.arange(1, D + 1, dtype=np.float64) ** -alpha))
    vocab = rng.integers(0, D, (C, min(D, 20)), dtype=np.int32)
    m = int(min(D, 100, max(12, np.ceil(3 * lam_x / lam_y))))  # words per label
    label_words = rng.integers(0, D, (L, m), dtype=np.int32)
    label_words[:, : m // 3] = vocab[comm[:, None], rng.integers(0, vocab.shape[1], (L, m // 3))]

    x_idx, x_cnt, x_nnz, y_idx, y_nnz = [], [], [], [], []
    chunk = 1 << 14  # rows per vectorised step: bounds the temporaries
    for r0 in range(0, n, chunk):
        nc = min(chunk, n - r0)
        pc = np.minimum(np.searchsorted(comm_cdf, rng.random(nc) * comm_cdf[-1]), C - 1)
        k = rng.poisson(lam_y, nc)
        rows = np.repeat(np.arange(nc), 2 * k)  # oversample, keep the first k distinct
        c = pc[rows]
        u = rng.random(rows.size)
        glob = rng.random(rows.size) < noise
        pos = np.searchsorted(
            cum, np.where(glob, u * cum[-1], comm_lo[c] + u * comm_w[c]), side="right"
        )
        pos = np.where(glob, np.minimum(pos, L - 1), np.clip(pos, bounds[c], bounds[c + 1] - 1))
        y_rows, y_cols, _ = _first_distinct(rows, by_comm[pos], k, L)
        deg = np.bincount(y_rows, minlength=nc)
        y_ptr = np.concatenate([[0], np.cumsum(deg)])
        y_idx.append(y_cols.astype(np.int32))
        y_nnz.append(deg)
        t = np.maximum(rng.poisson(lam_x, nc), 1)
        trows = np.repeat(np.arange(nc), 2 * t)
        tdeg = deg[trows]
        pick = y_ptr[trows] + (rng.random(trows.size) * tdeg).astype(np.int64)
        lab = y_cols[np.minimum(pick, max(y_cols.size - 1, 0))] if y_cols.size else tdeg
        j = (m * rng.random(trows.size) ** 2).astype(np.int64)  # favour a label's first words
        words = np.where(
            tdeg > 0,
            label_words[lab, j],
            vocab[pc[trows], rng.integers(0, vocab.shape[1], trows.size)],
        )
        bg = rng.random(trows.size) < noise
        words[bg] = np.minimum(
            np.searchsorted(word_cdf, rng.random(int(bg.sum())) * word_cdf[-1]), D - 1
        )
        x_rows, x_cols, counts = _first_distinct(trows, words, t, D)
        x_idx.append(x_cols.astype(np.int32))
        x_cnt.append(counts.astype(np.float32))
        x_nnz.append(np.bincount(x_rows, minlength=nc))
    X = _sparse.csr_from_parts(x_idx, x_cnt, x_nnz, (n, D))
    del x_idx, x_cnt
    idf = np.log((1.0 + n) / (1.0 + np.bincount(X.indices, minlength=D))) + 1.0
    np.log(X.data, out=X.data)  # in place: memory stays near the output size
    X.data += 1.0
    X.data *= idf.astype(np.float32)[X.indices]
    norms = np.sqrt(np.add.reduceat(np.square(X.data), X.indptr[:-1], dtype=np.float64))
    X.data /= np.repeat(norms.astype(np.float32), np.diff(X.indptr))
    return X, _sparse.csr_from_parts(y_idx, None, y_nnz, (n, L))


def _first_distinct(
    rows: np.ndarray,
    cols: np.ndarray,
    k: np.ndarray,
    n_cols: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep, per row ``r``, the first ``k[r]`` distinct columns drawn (rows non-decreasing).

    Returns (rows, cols, counts) sorted by (row, col); counts are the draws of each kept pair.
    """
    keys, first, counts = np.unique(
        rows.astype(np.int64) * n_cols + cols, return_index=True, return_counts=True
    )
    order = np.argsort(first)  # distinct pairs in order of first draw, grouped by row
    r = keys[order] // n_cols
    rank = np.arange(r.size) - np.searchsorted(r, r)
    keep = np.sort(order[rank < k[r]])
    return keys[keep] // n_cols, keys[keep] % n_cols, counts[keep]


def _as_generator(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1, size=4))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(_validation.check_int(random_state, "random_state", low=0))
    raise TypeError(
        "The 'random_state' parameter must be None, an int, a numpy Generator or "
        f"RandomState. Got {random_state!r} ({type(random_state).__name__}) instead."
    )
