"""Training on a Dask cluster through joblib's Dask backend gives the local model exactly.

Skipped when ``distributed`` is not installed (it is part of the test extras).
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from sleec import SLEEC, make_xmc

distributed = pytest.importorskip("distributed")

PARAMS = {"n_learners": 2, "n_clusters": 3, "n_components": 16, "n_graph_neighbors": 20,
          "n_neighbors": 10, "svp_max_iter": 10, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_dask_backend_trains_the_local_model(client):
    X, Y = make_xmc(1500, 800, 120, random_state=0)
    Xtr, Ytr, Xte = X[:1200], Y[:1200], X[1200:]
    local = SLEEC(**PARAMS).fit(Xtr, Ytr)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = SLEEC(**PARAMS).fit(Xtr, Ytr)
    # The (learner, cluster) tasks really ran on the cluster's workers.
    assert len({task["worker"] for task in stream.data}) >= 1 and len(stream.data) >= 2
    for a, b in zip(local.learners_, remote.learners_, strict=True):
        np.testing.assert_array_equal(a.centers, b.centers)
        for la, lb in zip(a.locals, b.locals, strict=True):
            np.testing.assert_array_equal(la.rows, lb.rows)
            np.testing.assert_array_equal(la.E, lb.E)
            assert (la.W != lb.W).nnz == 0
    ids_l, scores_l = local.predict_topk(Xte, 5)
    ids_r, scores_r = remote.predict_topk(Xte, 5)
    np.testing.assert_array_equal(ids_l, ids_r)
    np.testing.assert_array_equal(scores_l, scores_r)
