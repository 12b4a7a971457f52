"""The 8-bit grids of the stored embeddings and the regressors (sleec._quantize)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sleec._quantize import (
    decode_columns,
    encode_columns,
    encode_rows,
    extend_columns,
    quantize_columns,
    quantize_rows,
)


def test_columns_hand_computed():
    E = np.array([[0.0, 5.0, 2.0], [2.55, 5.0, 2.0], [1.0, 5.0, 3.0]], np.float32)
    values, grid = quantize_columns(E)
    # column 0: 0..2.55 in 255 steps of 0.01; column 1 constant (step 1); column 2: 2..3
    np.testing.assert_allclose(grid, [[0.01, 1.0, 1 / 255], [0.0, 5.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(values, E, atol=1e-6)
    assert encode_columns(values, grid).tolist() == [[0, 0, 0], [255, 0, 0], [100, 0, 255]]


def test_columns_error_is_at_most_half_a_step_and_round_trips():
    E = np.random.default_rng(0).normal(size=(500, 7)).astype(np.float32)
    values, grid = quantize_columns(E)
    assert np.all(np.abs(values - E) <= grid[0] / 2 * (1 + 1e-5))
    codes = encode_columns(values, grid)
    assert codes is not None and codes.dtype == np.uint8
    np.testing.assert_array_equal(decode_columns(codes, grid), values)  # bit for bit
    assert codes.min() == 0 and codes.max() == 255
    assert encode_columns(E, grid) is None  # the unrounded values are not on the grid
    assert encode_columns(np.full_like(values, np.nan), grid) is None


def test_empty_cluster_gets_a_grid():
    values, grid = quantize_columns(np.zeros((0, 3), np.float32))
    assert values.shape == (0, 3) and grid.tolist() == [[1, 1, 1], [0, 0, 0]]


def test_extend_within_the_range_keeps_the_grid_and_old_values():
    E, grid = quantize_columns(np.array([[0.0, -1.0], [1.0, 1.0]], np.float32))
    grown, same = extend_columns(E, grid, np.array([[0.5, 0.0]], np.float32))
    np.testing.assert_array_equal(same, grid)
    np.testing.assert_array_equal(grown[:2], E)
    assert encode_columns(grown, grid) is not None
    np.testing.assert_allclose(grown[2], [0.5, 0.0], atol=grid[0].max() / 2)


def test_extend_beyond_the_range_widens_only_that_column():
    E, grid = quantize_columns(np.array([[0.0, -1.0], [1.0, 1.0]], np.float32))
    grown, wider = extend_columns(E, grid, np.array([[3.0, 0.0]], np.float32))
    np.testing.assert_allclose(wider[:, 0], [3 / 255, 0.0], rtol=1e-6)
    np.testing.assert_allclose(grown, [[0, -1], [1, 1], [3, 0]], atol=wider[0].max() / 2)
    assert encode_columns(grown, wider) is not None
    np.testing.assert_array_equal(wider[:, 1], grid[:, 1])  # column 1: in range, unchanged
    np.testing.assert_array_equal(grown[:2, 1], E[:, 1])


def test_extend_a_constant_column_gets_a_real_grid():
    # a one-point cluster: every column constant, its step 1 a placeholder
    E, grid = quantize_columns(np.array([[0.5, 1.0]], np.float32))
    new = np.array([[0.9, 1.3], [0.6, 1.49]], np.float32)
    grown, wider = extend_columns(E, grid, new)
    step = wider[0]
    assert np.all(step < 0.01)
    np.testing.assert_allclose(grown, [[0.5, 1.0], *new], atol=float(step.max()) / 2 + 1e-7)
    assert encode_columns(grown, wider) is not None


def test_extend_empty_cases():
    E, grid = quantize_columns(np.zeros((0, 2), np.float32))
    grown, new_grid = extend_columns(E, grid, np.array([[1.0, 2.0], [3.0, 2.0]], np.float32))
    np.testing.assert_allclose(grown, [[1, 2], [3, 2]])
    E, grid = quantize_columns(np.array([[0.0, 1.0], [1.0, 2.0]], np.float32))
    same, same_grid = extend_columns(E, grid, np.zeros((0, 2), np.float32))
    assert same is E and same_grid is grid


def test_rows_symmetric_per_feature():
    W = sp.csr_matrix(np.array([[1.27, -0.5, 0.0], [0.0, 0.0, 0.0], [0.004, 254.0, -0.9]]))
    values, step = quantize_rows(W)
    np.testing.assert_allclose(step, [0.01, 1.0, 2.0], rtol=1e-6)
    # row 0: 127 and -50 steps; row 2: 0.004 and -0.9 round to 0 (dropped), 254 to 127 steps
    np.testing.assert_allclose(values.toarray(), [[1.27, -0.5, 0], [0, 0, 0], [0, 254, 0]])
    assert values.nnz == 3 and values.dtype == np.float32
    rows = np.repeat(np.arange(3), np.diff(values.indptr))
    codes = encode_rows(values.data, step[rows])
    assert codes is not None and codes.tolist() == [127, -50, 127]
    assert encode_rows(np.array([0.015], np.float32), step[:1]) is None
