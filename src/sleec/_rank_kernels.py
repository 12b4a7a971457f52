"""numba kernels of the second stage (:mod:`sleec.rerank`): per-label linear rankers trained
by dual coordinate descent, and their scores on shortlisted (point, label) pairs.

Each kernel has a serial and a parallel twin (``*_par``, ``prange`` over chunks of labels or
points, one scratch array per chunk); the twins compute the same numbers, and no result
depends on the number of threads (each label's coordinate order comes from its own seed).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._jit import twins

__all__ = [
    "LOGISTIC",
    "SQUARED_HINGE",
    "label_supports",
    "label_supports_par",
    "pair_margins",
    "pair_margins_by_feature",
    "pair_margins_by_feature_par",
    "pair_margins_par",
    "train_rankers",
    "train_rankers_par",
]

SQUARED_HINGE, LOGISTIC = 0, 1


def _label_supports(lp, lpts, xp, xi, n_features, chunk, out_counts):
    """``out_counts[l]``: the number of distinct features among the points ``lpts[lp[l]:
    lp[l + 1]]`` of label ``l`` (rows of the CSR ``(xp, xi)``)."""
    n_labels = lp.shape[0] - 1
    n_chunks = (n_labels + chunk - 1) // chunk
    for c in prange(n_chunks):
        mark = np.full(n_features, -1, dtype=np.int64)
        for lab in range(c * chunk, min(n_labels, (c + 1) * chunk)):
            m = 0
            for e in range(lp[lab], lp[lab + 1]):
                i = lpts[e]
                for p in range(xp[i], xp[i + 1]):
                    f = xi[p]
                    if mark[f] != lab:
                        mark[f] = lab
                        m += 1
            out_counts[lab] = m


label_supports, label_supports_par = twins(_label_supports)


def _train_rankers(
    lp, lpts, lsign, xp, xi, xd, sq_norms, n_features, c_pos, c_neg, bias, loss, eps,
    max_iter, seeds, chunk, wp, out_features, out_weights, out_bias,
):  # fmt: skip
    """One L2-regularised linear classifier per label, by dual coordinate descent (Hsieh et
    al. 2008 for the squared hinge, Yu, Huang and Lin 2011 for the logistic loss: the
    solvers of LIBLINEAR, without shrinking).

    Label ``l`` is trained on the points ``lpts[lp[l]:lp[l + 1]]`` (rows of the CSR
    ``(xp, xi, xd)``, squared norms ``sq_norms``) with signs ``lsign`` (+1 positive, -1
    negative), cost ``c_pos`` / ``c_neg`` per positive / negative, and a constant feature of
    value ``bias`` (regularised, as LIBLINEAR's ``-B``). Coordinates are visited in a random
    order per epoch from a generator seeded by ``seeds[l]``; the loop stops when the
    projected-gradient spread (squared hinge) or the largest Newton gradient (logistic)
    falls below ``eps``, or after ``max_iter`` epochs. The weights go to label ``l``'s slots
    ``wp[l]:wp[l + 1]`` of ``out_features`` (ascending feature ids: the label's support, as
    :func:`label_supports` counts it) and ``out_weights``; the constant feature's term
    (weight x ``bias``) to ``out_bias[l]``.
    """
    n_labels = lp.shape[0] - 1
    n_chunks = (n_labels + chunk - 1) // chunk
    for c in prange(n_chunks):
        local = np.full(n_features, -1, dtype=np.int64)  # feature -> slot in the label's w
        for lab in range(c * chunk, min(n_labels, (c + 1) * chunk)):
            lo, hi = lp[lab], lp[lab + 1]
            w0, size = wp[lab], wp[lab + 1] - wp[lab]
            m = 0
            for e in range(lo, hi):
                i = lpts[e]
                for p in range(xp[i], xp[i + 1]):
                    f = xi[p]
                    if local[f] < 0:
                        local[f] = 0
                        out_features[w0 + m] = f
                        m += 1
            support = out_features[w0 : w0 + size]
            support.sort()
            for t in range(size):
                local[support[t]] = t
            w = np.zeros(size, dtype=np.float64)
            bw = _solve(
                lo, hi - lo, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias,
                loss, eps, max_iter, seeds[lab],
            )  # fmt: skip
            for t in range(size):
                out_weights[w0 + t] = w[t]
                local[support[t]] = -1
            out_bias[lab] = bw * bias


@njit(cache=True, nogil=True)
def _next(state):
    """One step of a 64-bit linear congruential generator (Knuth's MMIX constants)."""
    return state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)


@njit(cache=True, nogil=True)
def _margin(i, xp, xi, xd, local, w, bw, bias):
    s = bw * bias
    for p in range(xp[i], xp[i + 1]):
        s += w[local[xi[p]]] * xd[p]
    return s


@njit(cache=True, nogil=True)
def _step(i, d, xp, xi, xd, local, w):
    for p in range(xp[i], xp[i + 1]):
        w[local[xi[p]]] += d * xd[p]


@njit(cache=True, nogil=True)
def _solve(
    lo, n, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias, loss, eps,
    max_iter, seed,
):  # fmt: skip
    """Dual coordinate descent of one label's problem (see :func:`_train_rankers`); updates
    ``w`` in place and returns the constant feature's weight."""
    if loss == SQUARED_HINGE:
        return _solve_squared_hinge(
            lo, n, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias, eps,
            max_iter, seed,
        )  # fmt: skip
    return _solve_logistic(
        lo, n, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias, eps,
        max_iter, seed,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _shuffle(order, state):
    """Fisher-Yates shuffle of ``order`` in place from the generator state; the new state."""
    for s in range(order.size - 1, 0, -1):
        state = _next(state)
        r = int((state >> np.uint64(33)) % np.uint64(s + 1))
        order[s], order[r] = order[r], order[s]
    return state


@njit(cache=True, nogil=True)
def _solve_squared_hinge(
    lo, n, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias, eps, max_iter,
    seed,
):  # fmt: skip
    """Hsieh et al. (2008)'s dual coordinate descent for the L2-regularised squared hinge:
    alpha_e >= 0, w = sum_e y_e alpha_e x_e; stops when the projected gradients' spread is
    at most ``eps`` over all coordinates. With LIBLINEAR's shrinking: a coordinate at
    alpha = 0 whose gradient exceeds the last epoch's largest projected gradient leaves the
    active set (most hard negatives, once their margin is met), and when the active set
    meets the tolerance every coordinate is checked again."""
    order = np.arange(n)
    state = np.uint64(seed) * np.uint64(2654435761) + np.uint64(1)
    bw, b2 = 0.0, bias * bias
    alpha = np.zeros(n)
    active = n
    pg_max_old = np.inf
    for _ in range(max_iter):
        state = _shuffle(order[:active], state)
        pg_max, pg_min = -np.inf, np.inf
        s = 0
        while s < active:
            e = order[s]
            i = lpts[lo + e]
            y = float(lsign[lo + e])
            diag = 0.5 / (c_pos if y > 0 else c_neg)
            g = y * _margin(i, xp, xi, xd, local, w, bw, bias) - 1.0 + alpha[e] * diag
            if alpha[e] == 0.0 and g > pg_max_old:  # shrink: swap it past the active end
                active -= 1
                order[s], order[active] = order[active], order[s]
                continue
            pg = g if alpha[e] > 0 else min(g, 0.0)
            pg_max = max(pg_max, pg)
            pg_min = min(pg_min, pg)
            if abs(pg) > 1e-12:
                old = alpha[e]
                alpha[e] = max(old - g / (sq_norms[i] + b2 + diag), 0.0)
                d = (alpha[e] - old) * y
                _step(i, d, xp, xi, xd, local, w)
                bw += d * bias
            s += 1
        if pg_max - pg_min <= eps:
            if active == n:
                break
            active = n  # the active set converged: check every coordinate once more
            pg_max_old = np.inf
            continue
        pg_max_old = pg_max if pg_max > 0 else np.inf
    return bw


@njit(cache=True, nogil=True)
def _solve_logistic(
    lo, n, lpts, lsign, xp, xi, xd, sq_norms, local, w, c_pos, c_neg, bias, eps, max_iter,
    seed,
):  # fmt: skip
    """Yu, Huang and Lin (2011)'s dual coordinate descent for L2-regularised logistic
    regression: alpha[2e] + alpha[2e + 1] = C, w = sum_e y_e alpha[2e] x_e, each coordinate
    by a few Newton steps; stops when the largest gradient is below ``eps``."""
    order = np.arange(n)
    state = np.uint64(seed) * np.uint64(2654435761) + np.uint64(1)
    bw, b2 = 0.0, bias * bias
    alpha = np.empty(2 * n)
    for e in range(n):
        upper = c_pos if lsign[lo + e] > 0 else c_neg
        alpha[2 * e] = min(0.001 * upper, 1e-8)
        alpha[2 * e + 1] = upper - alpha[2 * e]
        d = float(lsign[lo + e]) * alpha[2 * e]
        _step(lpts[lo + e], d, xp, xi, xd, local, w)
        bw += d * bias
    inner_eps, inner_min = 1e-2, min(1e-8, eps)
    for _ in range(max_iter):
        state = _shuffle(order, state)
        newton, g_max = 0, 0.0
        for s in range(n):
            e = order[s]
            i = lpts[lo + e]
            y = float(lsign[lo + e])
            upper = c_pos if y > 0 else c_neg
            a = sq_norms[i] + b2
            b = y * _margin(i, xp, xi, xd, local, w, bw, bias)
            one, two, sign = 2 * e, 2 * e + 1, 1.0
            if 0.5 * a * (alpha[two] - alpha[one]) + b < 0:
                one, two, sign = two, one, -1.0
            old = alpha[one]
            z = old
            if upper - z < 0.5 * upper:
                z = 0.1 * z
            gp = a * (z - old) + sign * b + np.log(z / (upper - z))
            g_max = max(g_max, abs(gp))
            steps = 0
            while steps <= 100 and abs(gp) >= inner_eps:
                gpp = a + upper / (upper - z) / z
                trial = z - gp / gpp
                z = z * 0.1 if trial <= 0 else trial
                gp = a * (z - old) + sign * b + np.log(z / (upper - z))
                steps += 1
            newton += steps
            if steps > 0:
                alpha[one] = z
                alpha[two] = upper - z
                d = sign * (z - old) * y
                _step(i, d, xp, xi, xd, local, w)
                bw += d * bias
        if g_max < eps:
            break
        if newton <= n // 10:
            inner_eps = max(inner_min, 0.1 * inner_eps)
    return bw


train_rankers, train_rankers_par = twins(_train_rankers)


def _pair_margins(qp, qi, qd, cand, wp, wi, wd, wb, n_features, chunk, out):
    """``out[i, t] = w_l . x_i + b_l`` for the candidate labels ``l = cand[i, t]`` (-1:
    none, margin -inf) of the query rows of the CSR ``(qp, qi, qd)``; the rankers are the
    CSR ``(wp, wi, wd)`` (L, n_features) and the bias terms ``wb``. Each query is scattered
    into a dense scratch row, so a margin costs the label's stored weights."""
    q, m = cand.shape
    n_chunks = (q + chunk - 1) // chunk
    for c in prange(n_chunks):
        dense = np.zeros(n_features, dtype=np.float32)
        for i in range(c * chunk, min(q, (c + 1) * chunk)):
            for p in range(qp[i], qp[i + 1]):
                dense[qi[p]] = qd[p]
            for t in range(m):
                lab = cand[i, t]
                if lab < 0:
                    out[i, t] = -np.inf
                    continue
                s = wb[lab]
                for p in range(wp[lab], wp[lab + 1]):
                    s += wd[p] * dense[wi[p]]
                out[i, t] = s
            for p in range(qp[i], qp[i + 1]):
                dense[qi[p]] = 0.0


pair_margins, pair_margins_par = twins(_pair_margins)


def _pair_margins_by_feature(qp, qi, qd, cand, tp, ti, td, wb, n_labels, chunk, out):
    """:func:`_pair_margins` with the rankers feature-major: ``(tp, ti, td)`` the CSR
    (n_features, L) of their transpose, so a margin costs the query's features' stored
    weights (cheaper when a shortlist holds labels with many weights). A row's candidates
    must be distinct (as shortlists are). The same sums in the same order: the bias, then
    the query's features ascending."""
    q, m = cand.shape
    n_chunks = (q + chunk - 1) // chunk
    for c in prange(n_chunks):
        slot = np.full(n_labels, -1, dtype=np.int64)  # label -> its column in the row
        for i in range(c * chunk, min(q, (c + 1) * chunk)):
            for t in range(m):
                lab = cand[i, t]
                if lab < 0:
                    out[i, t] = -np.inf
                else:
                    slot[lab] = t
                    out[i, t] = wb[lab]
            for p in range(qp[i], qp[i + 1]):
                f = qi[p]
                v = qd[p]
                for s in range(tp[f], tp[f + 1]):
                    t = slot[ti[s]]
                    if t >= 0:
                        out[i, t] += td[s] * v
            for t in range(m):
                if cand[i, t] >= 0:
                    slot[cand[i, t]] = -1


pair_margins_by_feature, pair_margins_by_feature_par = twins(_pair_margins_by_feature)
