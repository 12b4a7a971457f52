"""8-bit grids for the stored embeddings ``E`` and the regressors ``W``.

The fit rounds both to a grid of 256 levels and keeps them at that precision, so the model
file stores one byte a value and a loaded model predicts exactly as the fitted one (held out
on four sets against float16: P@1 -0.19..+0.34, mean +0.11, P@3 / P@5 within 0.13;
BENCHMARKS.md, "Model size"). Decoding is one float32 multiply and add, done the same way
at fit and at load.

- ``E`` (n, r) of one cluster: per column, ``offset + scale * code`` with ``code`` in
  0..255 (affine: the columns of an embedding are not centred on zero; the few entries
  that ``embedding_threshold`` zeroed come back within half a step of zero).
- ``W`` (d, r) of one cluster: per row (one feature), ``scale * code`` with ``code`` in
  -127..127 (symmetric, so pruned weights stay exactly zero; per feature, so one feature's
  large weights do not coarsen the others').
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "decode_columns",
    "decode_rows",
    "encode_columns",
    "extend_columns",
    "encode_rows",
    "quantize_columns",
    "quantize_rows",
]

_LEVELS = np.float32(255)  # affine codes 0..255 (uint8)
_HALF_RANGE = np.float32(127)  # symmetric codes -127..127 (int8)


def quantize_columns(E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E`` (n, r) rounded to a per-column 8-bit grid: (values (n, r) float32, grid (2, r)
    float32 of ``scale``, ``offset``). A constant or empty column gets scale 1."""
    E = np.asarray(E, dtype=np.float32)
    if E.shape[0] == 0:
        grid = np.stack([np.ones(E.shape[1]), np.zeros(E.shape[1])]).astype(np.float32)
        return E.copy(), grid
    low, high = E.min(axis=0), E.max(axis=0)
    scale = ((high - low) / _LEVELS).astype(np.float32)
    scale[~(scale > 0)] = 1.0
    grid = np.stack([scale, low]).astype(np.float32)
    return decode_columns(_affine_codes(E, grid), grid), grid


def extend_columns(
    E: np.ndarray, grid: np.ndarray, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``new`` rows (k, r) appended to ``E`` (n, r), which lies on ``grid``: in a column where
    they fall within the range ``E`` spans, they are rounded onto its grid (that column of
    ``E`` unchanged); a column they leave (a constant column, whose step 1 is a placeholder,
    included) is re-rounded whole to a new grid over the stack (:func:`quantize_columns`)."""
    new = np.asarray(new, dtype=np.float32)
    if E.shape[0] == 0:
        return quantize_columns(new)
    if new.shape[0] == 0:
        return E, grid
    beyond = np.any(new < E.min(axis=0), axis=0) | np.any(new > E.max(axis=0), axis=0)
    out = np.vstack([E, decode_columns(_affine_codes(new, grid), grid)])
    grid = grid.copy()
    if np.any(beyond):
        out[:, beyond], grid[:, beyond] = quantize_columns(np.vstack([E, new])[:, beyond])
    return out, grid


def _affine_codes(E: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((E - grid[1]) / grid[0]), 0, 255).astype(np.uint8)


def decode_columns(codes: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(n, r) float32 values of uint8 ``codes`` on ``grid`` (2, r)."""
    return codes.astype(np.float32) * grid[0] + grid[1]


def encode_columns(E: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    """The uint8 codes of ``E`` on ``grid``, or None when ``E`` does not lie on it exactly."""
    if not (np.all(np.isfinite(E)) and np.all(np.isfinite(grid)) and np.all(grid[0] > 0)):
        return None
    codes = _affine_codes(E, grid)
    return codes if np.array_equal(decode_columns(codes, grid), E) else None


def quantize_rows(W: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """The non-zeros of ``W`` (d, r) rounded to a per-row symmetric 8-bit grid: (float32 CSR
    without the entries rounded to zero, scale (d,) float32; 1 for an empty row)."""
    W = sp.csr_matrix(W, dtype=np.float32, copy=True)
    W.sum_duplicates()
    counts = np.diff(W.indptr)
    top = np.zeros(W.shape[0], dtype=np.float32)
    filled = counts > 0
    if W.nnz:
        top[filled] = np.maximum.reduceat(np.abs(W.data), W.indptr[:-1][filled])
    scale = (top / _HALF_RANGE).astype(np.float32)
    scale[~(scale > 0)] = 1.0
    steps = np.repeat(scale, counts)
    W.data = decode_rows(_symmetric_codes(W.data, steps), steps)
    W.eliminate_zeros()
    return W, scale


def _symmetric_codes(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values / scale), -127, 127).astype(np.int8)


def decode_rows(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 values of int8 ``codes`` with the per-entry (or broadcast per-row) ``scale``."""
    return codes.astype(np.float32) * scale


def encode_rows(values: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
    """The int8 codes of ``values`` on per-entry (or broadcast) ``scale``, or None when they
    do not lie on it exactly."""
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        return None
    codes = _symmetric_codes(values, scale)
    return codes if np.array_equal(decode_rows(codes, scale), values) else None
