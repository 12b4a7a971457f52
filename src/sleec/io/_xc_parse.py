"""Numba kernel that parses a block of data lines of the Extreme Classification (XC) text format.

The kernel works on raw bytes and reports problems as an error code plus the byte range of the
offending token; :mod:`sleec.datasets` turns those into :class:`~sleec.exceptions.DataFormatError`
messages with file name and line number. Nothing here raises for bad input.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
BAD_LABEL = 1  # label token is not a non-negative integer
LABEL_RANGE = 2  # label id >= n_labels
BAD_FEATURE = 4  # feature token is not 'index:value' or index is not a non-negative integer
FEATURE_RANGE = 5  # feature id >= n_features
BAD_VALUE = 7  # value is not a decimal number
NONFINITE = 8  # value is NaN, infinite or outside the float32 range
EXTRA_ROW = 9  # a non-blank line after the header's N rows
SLOW_FULL = 10  # the ``slow`` array is full: call again with a larger one

_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)
_INF = np.frombuffer(b"inf", dtype=np.uint8)
_INFINITY = np.frombuffer(b"infinity", dtype=np.uint8)
_NAN = np.frombuffer(b"nan", dtype=np.uint8)
# Digits are accumulated while the mantissa is below 10**17, so it stays below 10**18 < 2**63
# (at 10**18 one more digit would overflow int64 and flip the sign). Further digits make the
# conversion inexact, and the caller re-parses such values exactly.
_MANT_MAX = 10**17


@njit(cache=True, nogil=True)
def _parse_id(buf, a, b, limit):
    """The decimal digits ``buf[a:b]`` as an int (it stops growing once past ``limit``, so
    huge ids cannot overflow); -1 if a byte is not a digit."""
    v = 0
    for k in range(a, b):
        c = buf[k]
        if c < 48 or c > 57:
            return -1
        if v <= limit:
            v = v * 10 + (c - 48)
    return v


@njit(cache=True, nogil=True)
def _is_space(c):
    return c == 32 or c == 9 or c == 13


@njit(cache=True, nogil=True)
def _word_is(buf, a, b, word):
    """Whether ``buf[a:b]`` equals ``word`` (lower case ASCII) ignoring case."""
    if b - a != word.shape[0]:
        return False
    for k in range(b - a):
        if (buf[a + k] | 32) != word[k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _parse_value(buf, a, b, pow10):
    """Parse ``buf[a:b]`` as a decimal number.

    Returns ``(code, value, exact)``; ``exact`` is False when the exponent is outside the range
    in which ``mantissa * 10**exp`` is a single correctly rounded float64 operation.
    """
    i = a
    if i < b and (buf[i] == 43 or buf[i] == 45):  # '+' '-'
        i += 1
    neg = a < b and buf[a] == 45
    if i < b and ((buf[i] | 32) == 105 or (buf[i] | 32) == 110):  # 'i' / 'n': inf, nan
        if _word_is(buf, i, b, _INF) or _word_is(buf, i, b, _INFINITY) or _word_is(buf, i, b, _NAN):
            return NONFINITE, 0.0, True
        return BAD_VALUE, 0.0, True
    mant = np.int64(0)
    exp10 = 0
    ndigits = 0
    exact = True
    while i < b and 48 <= buf[i] <= 57:
        ndigits += 1
        if mant < _MANT_MAX:
            mant = mant * 10 + (buf[i] - 48)
        else:
            exp10 += 1
            exact = False
        i += 1
    if i < b and buf[i] == 46:  # '.'
        i += 1
        while i < b and 48 <= buf[i] <= 57:
            ndigits += 1
            if mant < _MANT_MAX:
                mant = mant * 10 + (buf[i] - 48)
                exp10 -= 1
            else:
                exact = False
            i += 1
    if ndigits == 0:
        return BAD_VALUE, 0.0, True
    if i < b and (buf[i] == 101 or buf[i] == 69):  # 'e' 'E'
        i += 1
        eneg = False
        if i < b and (buf[i] == 43 or buf[i] == 45):
            eneg = buf[i] == 45
            i += 1
        if i >= b:
            return BAD_VALUE, 0.0, True
        e = 0
        while i < b and 48 <= buf[i] <= 57:
            if e < 100000:
                e = e * 10 + (buf[i] - 48)
            i += 1
        exp10 += -e if eneg else e
    if i != b:
        return BAD_VALUE, 0.0, True
    if mant == 0:
        return OK, 0.0, True
    value = float(mant)
    if mant > 9007199254740992:  # 2**53: the mantissa itself was rounded
        exact = False
    if 0 <= exp10 <= 22:
        value *= pow10[exp10]
    elif -22 <= exp10 < 0:
        value /= pow10[-exp10]
    else:
        exact = False
        value *= 10.0 ** max(min(exp10, 400), -400)
    if neg:
        value = -value
    return OK, value, exact


@njit(cache=True, nogil=True)
def parse_xc_block(
    buf, n_features, n_labels, max_rows, feat_idx, feat_val, feat_cnt, label_idx, label_cnt, slow
):
    """Parse the data lines in ``buf`` (complete lines; the last may lack its newline).

    Parameters
    ----------
    buf : ndarray of uint8, shape (n_bytes,)
    n_features, n_labels : int
        ``D`` and ``L`` from the header; ids must be smaller.
    max_rows : int
        Rows still expected; later lines must be blank.
    feat_idx : ndarray of int32, shape (>= number of ':' in buf,)
    feat_val : ndarray of float32, same shape as ``feat_idx``
    feat_cnt, label_cnt : ndarray of int64, shape (>= number of lines,)
        Per-row entry counts (output).
    label_idx : ndarray of int32, shape (>= number of ',' plus number of lines,)
    slow : ndarray of int64, shape (n_slow_max, 3)
        Output: ``(entry, value_start, value_end)`` of values whose float conversion was not
        exact (exponent beyond +-22 or a mantissa above 2**53); the caller re-parses those.

    Returns
    -------
    code, n_rows, n_feat, n_lab, n_slow, err_start, err_end, unsorted : int
        ``code`` is :data:`OK` or an error code; ``err_start:err_end`` is the offending token
        (or line) in ``buf``. ``unsorted`` is 1 if some row's ids are not strictly increasing;
        the caller then sorts and looks for repeated ids.
    """
    n = buf.shape[0]
    pos = 0
    row = 0
    nf = 0
    nl = 0
    ns = 0
    unsorted = 0
    while pos < n:
        e = pos
        while e < n and buf[e] != 10:
            e += 1
        if row >= max_rows:
            i = pos
            while i < e and _is_space(buf[i]):
                i += 1
            if i < e:
                return EXTRA_ROW, row, nf, nl, ns, pos, e, 0
            pos = e + 1
            continue
        f0 = nf
        l0 = nl
        i = pos
        if i < e and not _is_space(buf[i]):
            j = i
            colon = False
            while j < e and not _is_space(buf[j]):
                if buf[j] == 58:
                    colon = True
                j += 1
            if not colon:  # the first token is the label field
                a = i
                while True:
                    b = a
                    while b < j and buf[b] != 44:
                        b += 1
                    if b == a:
                        return BAD_LABEL, row, nf, nl, ns, i, j, 0
                    v = _parse_id(buf, a, b, n_labels)
                    if v < 0:
                        return BAD_LABEL, row, nf, nl, ns, a, b, 0
                    if v >= n_labels:
                        return LABEL_RANGE, row, nf, nl, ns, a, b, 0
                    label_idx[nl] = v
                    nl += 1
                    if b >= j:
                        break
                    a = b + 1
                i = j
        while True:
            while i < e and _is_space(buf[i]):
                i += 1
            if i >= e:
                break
            j = i
            cp = -1
            while j < e and not _is_space(buf[j]):
                if buf[j] == 58 and cp < 0:
                    cp = j
                j += 1
            if cp <= i:
                return BAD_FEATURE, row, nf, nl, ns, i, j, 0
            v = _parse_id(buf, i, cp, n_features)
            if v < 0:
                return BAD_FEATURE, row, nf, nl, ns, i, j, 0
            if v >= n_features:
                return FEATURE_RANGE, row, nf, nl, ns, i, j, 0
            code, value, exact = _parse_value(buf, cp + 1, j, _POW10)
            if code != OK:
                return code, row, nf, nl, ns, i, j, 0
            v32 = np.float32(value)
            if exact and not np.isfinite(v32):
                return NONFINITE, row, nf, nl, ns, i, j, 0
            if not exact:
                if ns >= slow.shape[0]:
                    return SLOW_FULL, row, nf, nl, ns, i, j, 0
                slow[ns, 0] = nf
                slow[ns, 1] = cp + 1
                slow[ns, 2] = j
                ns += 1
            feat_idx[nf] = v
            feat_val[nf] = v32
            nf += 1
            i = j
        if not unsorted:
            for k in range(f0 + 1, nf):
                if feat_idx[k] <= feat_idx[k - 1]:
                    unsorted = 1
            for k in range(l0 + 1, nl):
                if label_idx[k] <= label_idx[k - 1]:
                    unsorted = 1
        feat_cnt[row] = nf - f0
        label_cnt[row] = nl - l0
        row += 1
        pos = e + 1
    return OK, row, nf, nl, ns, 0, 0, unsorted
