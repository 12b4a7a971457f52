"""Synthetic extreme multi-label data with realistic structure, at any size (``make_xmc``)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
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
    background: float = 0.3,
    specificity: float = 0.08,
    random_state: Any = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Generate a synthetic extreme multi-label data set with realistic structure.

    Labels form ``n_communities`` co-occurrence communities of (nearly) equal size. Community
    popularity follows a Zipf law (``p(rank r) ~ r**-power_law_exponent``) and so does label
    popularity inside a community, so label frequencies are Zipf-like overall (ids shuffled):
    a few head labels, a long tail. A point picks one community (by popularity) and draws about
    ``avg_labels_per_point`` labels (Poisson) from it by popularity; with probability
    ``noise`` a draw comes from all labels instead. Labels are distinct and a few points
    (Poisson zeros) get no labels.

    Words mimic tagged text, where the tags are only weakly visible in the words. Each
    community has a vocabulary of about ``4 * avg_features_per_point`` words with Zipf
    weights, shared by all its labels; each label has about ``avg_features_per_point /
    avg_labels_per_point`` specific words, half of them from its community's vocabulary.
    Each word draw of a point is, with probability ``background``, from a Zipf background
    over all features; with probability ``specificity``, a specific word of one of the
    point's labels (chosen uniformly); otherwise from its community's vocabulary. Most words
    thus tell the point's community (and its likely head labels), a few tell which labels of
    the community it has.
    Draws continue until the point has about its target number of distinct words (Poisson,
    mean ``avg_features_per_point``, at least one); repeated draws give the term frequencies.
    Values are tf-idf, ``(1 + log tf) * (log((1 + n) / (1 + df)) + 1)``, and rows are
    L2-normalised.

    The defaults give the difficulty of real tagging data for the peer libraries
    (BENCHMARKS.md); raise ``specificity`` (or lower ``background``) for easier data.

    Parameters
    ----------
    n_samples, n_features, n_labels : int
        Output sizes (positive).
    avg_labels_per_point : float, default=5.0
        Mean number of labels per point (somewhat fewer when communities are small).
    avg_features_per_point : float, default=50.0
        Mean number of distinct features (non-zeros) per point (fewer when the words repeat
        much: a steep ``power_law_exponent``, few features).
    n_communities : int, optional
        Number of label communities (default ``round(sqrt(n_labels))``), at most ``n_labels``.
    power_law_exponent : float, default=1.0
        Zipf exponent of the community, label-within-community, background word and
        community-vocabulary word frequencies; 0 gives uniform.
    noise : float, default=0.1
        Probability that a label draw ignores the point's community.
    background : float, default=0.3
        Probability that a word draw comes from the Zipf background vocabulary.
    specificity : float, default=0.08
        Probability that a word draw is a specific word of one of the point's labels (points
        without labels draw community words instead). ``background + specificity`` must be
        at most 1.
    random_state : int, numpy Generator or RandomState, or None
        Seed; the same seed gives the same data.

    Returns
    -------
    X : csr_matrix of float32, shape (n_samples, n_features)
        tf-idf features, rows with unit L2 norm, sorted indices.
    Y : csr_matrix of float32, shape (n_samples, n_labels)
        Binary labels, sorted indices.
    """
    n, D, L, lam_y, lam_x, C, alpha, noise, bg, spec = _checked(
        n_samples,
        n_features,
        n_labels,
        avg_labels_per_point,
        avg_features_per_point,
        n_communities,
        power_law_exponent,
        noise,
        background,
        specificity,
    )
    rng = _as_generator(random_state)
    labels = _Labels.draw(rng, L, C, alpha)
    words = _Words.draw(rng, D, C, L, lam_x, lam_y, alpha, labels.comm)
    x_idx, x_cnt, x_nnz, y_idx, y_nnz = [], [], [], [], []
    chunk = 1 << 14  # rows per vectorised step: bounds the temporaries
    for r0 in range(0, n, chunk):
        nc = min(chunk, n - r0)
        pc, y_cols, deg = labels.points(rng, nc, lam_y, noise)
        y_idx.append(y_cols.astype(np.int32))
        y_nnz.append(deg)
        x_rows, x_cols, counts = words.points(rng, nc, lam_x, bg, spec, pc, y_cols, deg)
        x_idx.append(x_cols.astype(np.int32))
        x_cnt.append(counts.astype(np.float32))
        x_nnz.append(np.bincount(x_rows, minlength=nc))
    X = _sparse.csr_from_parts(x_idx, x_cnt, x_nnz, (n, D))
    del x_idx, x_cnt
    _tfidf_unit_rows(X, n, D)
    return X, _sparse.csr_from_parts(y_idx, None, y_nnz, (n, L))


def _checked(n_samples, n_features, n_labels, lam_y, lam_x, n_communities, alpha, noise, bg, spec):
    """make_xmc's arguments validated, in its order (``C`` resolved)."""
    owner = "make_xmc"
    check_int, check_float = _validation.check_int, _validation.check_float
    n = check_int(n_samples, "n_samples", low=1, owner=owner)
    D = check_int(n_features, "n_features", low=1, high=_sparse.INT32_MAX, owner=owner)
    L = check_int(n_labels, "n_labels", low=1, high=_sparse.INT32_MAX, owner=owner)
    lam_y = check_float(lam_y, "avg_labels_per_point", low=0, low_open=True, owner=owner)
    lam_x = check_float(lam_x, "avg_features_per_point", low=0, low_open=True, owner=owner)
    C = (
        max(1, round(L**0.5))
        if n_communities is None
        else check_int(n_communities, "n_communities", low=1, high=L, owner=owner)
    )
    alpha = check_float(alpha, "power_law_exponent", low=0, owner=owner)
    noise = check_float(noise, "noise", low=0, high=1, owner=owner)
    bg = check_float(bg, "background", low=0, high=1, owner=owner)
    spec = check_float(spec, "specificity", low=0, high=1, owner=owner)
    if bg + spec > 1 + 1e-9:
        raise ValueError(
            "The 'background' and 'specificity' parameters of make_xmc must sum to at most 1. "
            f"Got {bg!r} + {spec!r} instead."
        )
    return n, D, L, lam_y, lam_x, C, alpha, noise, bg, spec


@dataclass(frozen=True)
class _Labels:
    """The label model: Zipf community popularity times Zipf popularity within the
    community, under shuffled ids; ``by_comm`` lists the labels grouped by community (random
    order inside), ``bounds`` its groups, ``cum`` the cumulative weights in that order."""

    comm: np.ndarray
    by_comm: np.ndarray
    bounds: np.ndarray
    cum: np.ndarray
    comm_lo: np.ndarray
    comm_w: np.ndarray
    comm_cdf: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, L: int, C: int, alpha: float) -> _Labels:
        comm = rng.permutation(np.arange(L) % C)
        by_comm = np.lexsort((rng.random(L), comm))
        bounds = np.searchsorted(comm[by_comm], np.arange(C + 1))
        sorted_comm = comm[by_comm]
        w = (np.arange(L) - bounds[sorted_comm] + 1.0) ** -alpha  # by rank in the community
        w_sum = np.add.reduceat(w, bounds[:-1])
        w *= (np.arange(1, C + 1, dtype=np.float64) ** -alpha / w_sum)[sorted_comm]
        cum = np.cumsum(w)
        comm_lo = np.concatenate([[0.0], cum])[bounds[:-1]]
        comm_w = cum[bounds[1:] - 1] - comm_lo
        return cls(comm, by_comm, bounds, cum, comm_lo, comm_w, np.cumsum(comm_w) / cum[-1])

    def points(self, rng: np.random.Generator, nc: int, lam_y: float, noise: float):
        """``(community (nc,), label ids by row, labels per row)`` of ``nc`` new points."""
        C, L = self.bounds.size - 1, self.comm.size
        pc = np.minimum(np.searchsorted(self.comm_cdf, rng.random(nc) * self.comm_cdf[-1]), C - 1)
        k = rng.poisson(lam_y, nc)
        rows = np.repeat(np.arange(nc), 2 * k)  # oversample, keep the first k distinct
        c = pc[rows]
        u = rng.random(rows.size)
        glob = rng.random(rows.size) < noise
        pos = np.searchsorted(
            self.cum,
            np.where(glob, u * self.cum[-1], self.comm_lo[c] + u * self.comm_w[c]),
            side="right",
        )
        pos = np.where(
            glob, np.minimum(pos, L - 1), np.clip(pos, self.bounds[c], self.bounds[c + 1] - 1)
        )
        y_rows, y_cols, _ = _first_distinct(rows, self.by_comm[pos], k, L)
        return pc, y_cols, np.bincount(y_rows, minlength=nc)


@dataclass(frozen=True)
class _Words:
    """The word model: a Zipf background over all features; per community a vocabulary of
    ``V`` words with Zipf weights; per label ``m`` specific words, half of them from its
    community's vocabulary."""

    background: tuple[np.ndarray, np.ndarray]
    vocab: np.ndarray
    vocab_sampler: tuple[np.ndarray, np.ndarray]
    label_words: np.ndarray

    @classmethod
    def draw(cls, rng, D, C, L, lam_x, lam_y, alpha, comm) -> _Words:
        background = _sampler(rng.permutation(np.arange(1, D + 1, dtype=np.float64) ** -alpha))
        V = int(min(D, max(10, round(4 * lam_x))))
        vocab = rng.integers(0, D, (C, V), dtype=np.int32)
        vocab_sampler = _sampler(np.arange(1, V + 1, dtype=np.float64) ** -alpha)
        m = int(min(D, max(2, round(lam_x / lam_y))))
        label_words = rng.integers(0, D, (L, m), dtype=np.int32)
        h = m // 2
        label_words[:, :h] = vocab[comm[:, None], rng.integers(0, V, (L, h))]
        return cls(background, vocab, vocab_sampler, label_words)

    def points(self, rng, nc, lam_x, bg, spec, pc, y_cols, deg):
        """``(rows, feature ids, counts)`` of the words of ``nc`` new points of communities
        ``pc`` carrying the labels ``y_cols`` (``deg`` per row): each draw from the
        background (probability ``bg``), a label's specific words (``spec``) or the
        community vocabulary."""
        D, m = self.background[0].size, self.label_words.shape[1]
        y_ptr = np.concatenate([[0], np.cumsum(deg)])
        t = np.maximum(rng.poisson(lam_x, nc), 1)
        trows = np.repeat(np.arange(nc), 2 * t)  # oversample, keep the first t distinct
        tdeg = deg[trows]
        src = rng.random(trows.size)
        words = np.empty(trows.size, dtype=np.int32)
        sel = src < bg
        words[sel] = _draw(self.background, rng, int(sel.sum()))
        spec_sel = (src >= bg) & (src < bg + spec) & (tdeg > 0)
        ts = trows[spec_sel]
        pick = y_ptr[ts] + (rng.random(ts.size) * tdeg[spec_sel]).astype(np.int64)
        words[spec_sel] = self.label_words[y_cols[pick], rng.integers(0, m, ts.size)]
        sel = ~(sel | spec_sel)
        words[sel] = self.vocab[pc[trows[sel]], _draw(self.vocab_sampler, rng, int(sel.sum()))]
        return _first_distinct(trows, words, t, D)


def _tfidf_unit_rows(X: sp.csr_matrix, n: int, D: int) -> None:
    """Term counts of ``X`` to tf-idf, rows scaled to unit norm, in place (memory stays near
    the output size)."""
    idf = np.log((1.0 + n) / (1.0 + np.bincount(X.indices, minlength=D))) + 1.0
    np.log(X.data, out=X.data)
    X.data += 1.0
    X.data *= idf.astype(np.float32)[X.indices]
    norms = np.sqrt(np.add.reduceat(np.square(X.data), X.indptr[:-1], dtype=np.float64))
    X.data /= np.repeat(norms.astype(np.float32), np.diff(X.indptr))


def _first_distinct(
    rows: np.ndarray,
    cols: np.ndarray,
    k: np.ndarray,
    n_cols: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep, per row ``r``, the first ``k[r]`` distinct columns drawn (rows non-decreasing).

    Returns (rows, cols, counts) sorted by (row, col); counts are the draws of each kept pair.
    """
    keys = rows.astype(np.int64) * n_cols + cols
    if keys.size == 0:
        return keys, keys, keys
    order = np.argsort(keys)  # not stable: the first draw of a pair is found below
    sk = keys[order]
    start = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    first = np.minimum.reduceat(order, start)
    counts = np.diff(np.append(start, sk.size))
    is_first = np.zeros(keys.size, dtype=np.int64)
    is_first[first] = 1
    seen = np.cumsum(is_first)  # distinct pairs drawn so far, in draw order
    kr = sk[start] // n_cols
    row_start = np.searchsorted(rows, np.arange(rows[-1] + 1))[kr]
    rank = seen[first] - 1 - (seen[row_start] - is_first[row_start])
    keep = rank < k[kr]
    return kr[keep], sk[start][keep] % n_cols, counts[keep]


def _sampler(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cdf of ``weights`` and a guide table for ``_draw`` (4 entries per weight)."""
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf, np.searchsorted(cdf, np.arange(4 * cdf.size) / (4 * cdf.size))


def _draw(
    sampler: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, size: int
) -> np.ndarray:
    """``size`` indices drawn with probabilities ``weights / weights.sum()`` (``_sampler``):
    the guide table gives the first candidate, a few vectorised steps the exact index (the
    same as ``np.searchsorted(cdf, u)``)."""
    cdf, guide = sampler
    u = rng.random(size)
    j = guide[(u * guide.size).astype(np.intp)]
    i = np.flatnonzero(cdf[j] < u)
    while i.size:
        j[i] += 1
        i = i[cdf[j[i]] < u[i]]
    return j


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
