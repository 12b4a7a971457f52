"""The inverted-file search (sleec._cells): the partition, the probed screen against a
brute-force search over the same cells, and the estimator's n_probes."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TOY_ENSEMBLE
from sleec import SLEEC
from sleec._cells import n_cells_for, screen_cells
from sleec.neighbors import nearest_neighbors, search_arrays


def blobs(seed: int, m: int, r: int = 6, n_blobs: int = 12):
    """m points on an integer grid around ``n_blobs`` centres (exact float32 scores)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(-40, 40, size=(n_blobs, r))
    return (centres[rng.integers(0, n_blobs, m)] + rng.integers(-3, 4, size=(m, r))).astype(
        np.float32
    )


def augmented(E: np.ndarray, Z: np.ndarray):
    """(cells, Q_aug) of stored rows E and queries Z, as nearest_neighbors prepares them."""
    searched = search_arrays(E, "euclidean")
    Q_aug = np.ones((Z.shape[0], Z.shape[1] + 1), dtype=np.float32)
    Q_aug[:, :-1] = Z - searched.center
    return searched.cells, Q_aug


def test_cells_partition_the_stored_rows_deterministically():
    E = blobs(0, 900)
    searched = search_arrays(E, "euclidean")
    cells = searched.cells
    sizes = np.diff(cells.offsets)
    assert cells.offsets[0] == 0 and cells.offsets[-1] == 900 and (sizes > 0).all()
    assert sizes.size >= n_cells_for(900) - 3  # 30 cells, an empty one dropped at most few
    assert sizes.max() <= 2 * 30  # no cell above twice the mean (30 rows)
    np.testing.assert_array_equal(np.sort(cells.order), np.arange(900))
    np.testing.assert_array_equal(cells.rows_aug, searched.E_aug[cells.order])
    again = search_arrays(E.copy(), "euclidean").cells  # a reloaded model rebuilds the same
    for got, want in zip(
        (again.order, again.offsets, again.centers_aug),
        (cells.order, cells.offsets, cells.centers_aug),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


def test_a_dense_region_and_repeated_rows_are_split_into_cells_of_about_the_mean():
    rng = np.random.default_rng(3)
    E = rng.normal(size=(1600, 4)).astype(np.float32)
    E[:600] = 0.01 * rng.normal(size=(600, 4))  # a dense blob: one Lloyd cell would hold it
    E[600:900] = 5.0  # 300 identical rows: k-means cannot part them
    cells = search_arrays(E, "euclidean").cells
    sizes = np.diff(cells.offsets)
    assert sizes.max() <= 2 * 40  # 40 cells by sqrt(1600), mean 40 rows
    np.testing.assert_array_equal(np.sort(cells.order), np.arange(1600))
    # each cell's centre is the mean of its rows (Lloyd's last assignment, or the run's)
    centred = E.astype(np.float64) - search_arrays(E, "euclidean").center
    for c in range(sizes.size):
        rows = cells.order[cells.offsets[c] : cells.offsets[c + 1]]
        np.testing.assert_allclose(
            -cells.centers_aug[c, :-1] / 2, centred[rows].mean(axis=0), atol=1e-4
        )


@pytest.mark.parametrize(("n_probes", "k"), [(1, 5), (3, 20), (4, 200)])
def test_probed_screen_is_brute_force_over_the_probed_cells(n_probes, k):
    E, Z = blobs(1, 1200), blobs(2, 40).astype(np.float64) + 0.5
    cells, Q_aug = augmented(E, Z)
    got = screen_cells(Q_aug, cells, n_probes, k)
    sizes = np.diff(cells.offsets)
    for i in range(Z.shape[0]):
        cell_scores = cells.centers_aug.astype(np.float64) @ Q_aug[i]
        ranked = np.lexsort((np.arange(sizes.size), cell_scores))
        used = max(n_probes, int(np.argmax(np.cumsum(sizes[ranked]) >= k)) + 1)
        positions = np.concatenate(
            [np.arange(cells.offsets[c], cells.offsets[c + 1]) for c in ranked[:used]]
        )
        scores = cells.rows_aug[positions].astype(np.float64) @ Q_aug[i]
        best = positions[np.lexsort((positions, scores))[:k]]
        np.testing.assert_array_equal(got[i], cells.order[best])


def test_probing_every_cell_is_the_exact_search():
    E, Z = blobs(3, 1000), blobs(4, 30).astype(np.float64) + 0.25
    exact = nearest_neighbors(Z, E, 10, metric="euclidean", weighting="uniform")
    every = nearest_neighbors(
        Z, E, 10, metric="euclidean", weighting="uniform", n_probes=n_cells_for(1000) // 2
    )
    for got, want in zip(every, exact, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_query_gets_the_same_neighbours_alone_or_in_a_batch():
    E = blobs(5, 2500)
    Z = blobs(6, 300).astype(np.float64) + np.random.default_rng(7).normal(size=(300, 6))
    batch = nearest_neighbors(Z, E, 8, metric="euclidean", weighting="distance", n_probes=3)
    for i in range(0, 300, 37):
        alone = nearest_neighbors(
            Z[i : i + 1], E, 8, metric="euclidean", weighting="distance", n_probes=3
        )
        np.testing.assert_array_equal(alone[0][0], batch[0][i])
        np.testing.assert_array_equal(alone[1][0], batch[1][i])


def test_approximate_neighbours_are_the_true_ones_on_separated_blobs():
    E = blobs(8, 3000, n_blobs=30)  # 55 cells, far-apart blobs: the nearest cells suffice
    Z = E[::97].astype(np.float64) + 0.3
    exact = nearest_neighbors(Z, E, 10, metric="euclidean", weighting="uniform")[0]
    approx = nearest_neighbors(Z, E, 10, metric="euclidean", weighting="uniform", n_probes=4)
    recall = np.mean([np.isin(a, b).mean() for a, b in zip(approx[0], exact, strict=True)])
    assert recall > 0.95


def test_n_probes_is_a_prediction_parameter_and_zero_is_exact(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc  # 400 points in one cluster: 20 cells
    model = SLEEC(**{**TOY_ENSEMBLE, "n_clusters": 1, "n_probes": 2}, random_state=0)
    model.fit(Xtr, Ytr)
    approx = model.predict_topk(Xte, 5)[0]
    exact = model.set_params(n_probes=0).predict_topk(Xte, 5)[0]
    wide = model.set_params(n_probes=10).predict_topk(Xte, 5)[0]  # half of the 20 cells
    assert (wide == exact).all(axis=1).mean() >= 0.99  # measured: 199 of 200 rows
    assert (approx[:, 0] == exact[:, 0]).mean() > 0.8
    assert not np.array_equal(approx, exact)  # 2 of 20 cells: the search is approximate
