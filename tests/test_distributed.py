"""sleec on a Dask cluster (a real ``distributed.LocalCluster``: two worker processes).

Training through joblib's Dask backend and prediction with ``predict_topk_distributed`` give
exactly the local model and predictions; a worker killed mid-training is survived; the CLI's
``--scheduler``. Skipped when ``distributed`` is not installed (it is part of the test extras).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

from sleec import SLEEC, cli, make_xmc, predict_topk_distributed
from sleec._dask import send_if_dask
from sleec.datasets import write_xc

distributed = pytest.importorskip("distributed")
dask_array = pytest.importorskip("dask.array")
dask_bag = pytest.importorskip("dask.bag")

# A second cluster's scheduler finds the first one's HTTP port taken and picks another.
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")

PARAMS = {
    "n_learners": 2,
    "n_clusters": 3,
    "n_components": 16,
    "n_graph_neighbors": 20,
    "n_neighbors": 10,
    "svp_max_iter": 10,
    "random_state": 0,
}


def new_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )


@pytest.fixture(scope="module")
def cluster():
    with new_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data():
    X, Y = make_xmc(1500, 800, 120, random_state=0)
    return X[:1200], Y[:1200], X[1200:]


@pytest.fixture(scope="module")
def local(data):
    Xtr, Ytr, _ = data
    return SLEEC(**PARAMS).fit(Xtr, Ytr)


def assert_same_model(a: SLEEC, b: SLEEC) -> None:
    for la, lb in zip(a.learners_, b.learners_, strict=True):
        np.testing.assert_array_equal(la.centers.toarray(), lb.centers.toarray())
        for ca, cb in zip(la.locals, lb.locals, strict=True):
            np.testing.assert_array_equal(ca.rows, cb.rows)
            np.testing.assert_array_equal(ca.features, cb.features)
            np.testing.assert_array_equal(ca.E, cb.E)
            assert (ca.W != cb.W).nnz == 0


def assert_same_predictions(a: tuple, b: tuple) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].dtype == b[0].dtype and a[1].dtype == b[1].dtype


# --------------------------------------------------------------------------------- training


@pytest.mark.slow
def test_dask_backend_trains_the_local_model(client, data, local):
    Xtr, Ytr, Xte = data
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = SLEEC(**PARAMS).fit(Xtr, Ytr)
    # The (learner, cluster) tasks really ran on the cluster's workers.
    assert sum("_fit_task" in task["key"] for task in stream.data) >= 2
    assert_same_model(local, remote)
    assert_same_predictions(local.predict_topk(Xte, 5), remote.predict_topk(Xte, 5))


def _fit_tasks(dask_scheduler) -> list[dict]:
    """Per (learner, cluster) task on the scheduler: its own pickled size and its inputs."""
    return [
        {
            "spec": len(pickle.dumps(ts.run_spec)),
            "deps": {str(d.key): (d.nbytes, d.run_spec is not None) for d in ts.dependencies},
        }
        for ts in dask_scheduler.tasks.values()
        if "_fit_task" in str(ts.key)
    ]


@contextlib.contextmanager
def polling(poll: Callable[[], list], into: list) -> Iterator[None]:
    """Call ``poll`` every 10 ms in a thread while the block runs; collect what it returns."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            into.extend(poll())
            time.sleep(0.01)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.slow
def test_training_data_is_sent_once_not_with_every_task(client, data):
    Xtr, Ytr, _ = data
    seen: list[dict] = []
    with (
        polling(lambda: client.run_on_scheduler(_fit_tasks), seen),
        joblib.parallel_config(backend="dask"),
    ):
        SLEEC(**PARAMS).fit(Xtr, Ytr)
    assert seen
    x_bytes = Xtr.data.nbytes + Xtr.indices.nbytes
    rows_bytes = 8 * Xtr.shape[0]  # a cluster's int32 row indices take less
    big = {key for task in seen for key, (nbytes, _) in task["deps"].items() if nbytes > rows_bytes}
    # X and Y: one key each, shared by every task, restorable by the scheduler.
    assert len(big) == 2 and all(key.startswith("sleec-data-") for key in big)
    for task in seen:
        assert big <= set(task["deps"])
        assert all(recomputable for _, recomputable in task["deps"].values())
        assert task["spec"] < 4000 < x_bytes  # a task carries keys, not the data


def test_send_if_dask_leaves_arrays_alone_without_the_dask_backend(data):
    Xtr, Ytr, _ = data
    sent = send_if_dask(Xtr, Ytr)
    assert sent[0] is Xtr and sent[1] is Ytr


def _kill_a_busy_worker(
    client: distributed.Client, stop: threading.Event, killed: dict[str, str]
) -> None:
    """SIGKILL a worker while it runs a (learner, cluster) task; record its address and the
    task's key in ``killed``. Polls until ``stop`` is set."""

    def executing(dask_worker) -> list[str]:
        return [str(ts.key) for ts in dask_worker.state.executing if "_fit_task" in str(ts.key)]

    pids = client.run(os.getpid)
    dropped = False
    while not stop.is_set():
        busy = {w: keys for w, keys in client.run(executing).items() if keys}
        if busy and not dropped:
            client.amm.run_once()  # drop surplus copies of data, as the scheduler does every 2 s
            dropped = True
        elif busy:
            worker, keys = next(iter(busy.items()))
            os.kill(pids[worker], signal.SIGKILL)
            killed.update(worker=worker, key=keys[0])
            return
        time.sleep(0.005)


@pytest.mark.slow
def test_worker_killed_mid_training_gives_the_local_model():
    """SIGKILL a worker while it runs a task: the nanny restarts it, Dask retries the task."""
    X, Y = make_xmc(3000, 1000, 200, random_state=0)
    params = {**PARAMS, "n_clusters": 4}
    local = SLEEC(**params).fit(X, Y)
    with new_cluster() as cluster, distributed.Client(cluster) as client:
        killed: dict[str, str] = {}
        stop = threading.Event()
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, stop, killed))
        with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
            killer.start()
            try:
                remote = SLEEC(**params).fit(X, Y)
            finally:
                stop.set()
                killer.join()
        assert killed, "no worker was running a task during the fit"
        # The killed task ran again elsewhere; the nanny brought the worker back.
        assert any(
            t["key"] == killed["key"] and t["worker"] != killed["worker"] for t in stream.data
        )
        client.wait_for_workers(2, timeout=60)
    assert_same_model(local, remote)


# ------------------------------------------------------------------------------- prediction


def _chunks(X: sp.csr_matrix) -> list:
    bounds = [0, 50, 51, 51, 180, X.shape[0]]  # a one-row and an empty chunk among them
    return [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


INPUTS = {
    "matrix": lambda X: X,
    "dense": lambda X: X.toarray(),
    "list": _chunks,
    "tuple": lambda X: tuple(_chunks(X)),
    "bag": lambda X: dask_bag.from_sequence(_chunks(X), npartitions=2),
    "array": lambda X: dask_array.from_array(X, chunks=(64, -1), asarray=False),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_predict_distributed_equals_local_prediction(client, data, local, kind):
    _, _, Xte = data
    expected = local.predict_topk(Xte, 7)
    got = predict_topk_distributed(local, INPUTS[kind](Xte), 7, client=client, chunk_size=64)
    assert_same_predictions(expected, got)


@pytest.mark.slow
def test_predict_distributed_uses_the_default_client(client, data, local):
    _, _, Xte = data
    assert_same_predictions(
        local.predict_topk(Xte[:10], 3), predict_topk_distributed(local, Xte[:10], 3)
    )
    ids, scores = predict_topk_distributed(local, [], 3)
    assert ids.shape == scores.shape == (0, 3)


@pytest.mark.slow
def test_predict_distributed_rejects_bad_inputs(client, data, local):
    _, _, Xte = data
    d = Xte.shape[1]
    with pytest.raises(TypeError, match="expected a scipy.sparse matrix"):
        predict_topk_distributed(local, "test.txt", client=client)
    with pytest.raises(TypeError, match=r"data\[1\] is a str"):
        predict_topk_distributed(local, [Xte, "x"], client=client)
    with pytest.raises(ValueError, match=f"expecting {d} features"):
        predict_topk_distributed(local, Xte[:, :5], client=client)
    with pytest.raises(ValueError, match=rf"data\[1\] has shape \(3, 5\); expected \(n, {d}\)"):
        predict_topk_distributed(local, [Xte, Xte[:3, :5]], client=client)
    with pytest.raises(ValueError, match="1 block along the columns|rechunk"):
        predict_topk_distributed(
            local, dask_array.from_array(Xte.toarray(), chunks=(50, 100)), client=client
        )
    bag = dask_bag.from_sequence([Xte, Xte[:, :5]], npartitions=2)
    with pytest.raises(ValueError, match=r"element 0 of partition 1 of data has shape"):
        predict_topk_distributed(local, bag, client=client)
    with pytest.raises(ValueError, match="chunk_size"):
        predict_topk_distributed(local, Xte, client=client, chunk_size=0)
    with pytest.raises(TypeError, match="fitted SLEEC"):
        predict_topk_distributed(object(), Xte, client=client)


# ---------------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def files(tmp_path_factory, data, local):
    """train.txt, test.txt and model.npz (the local model) in a fresh directory."""
    Xtr, Ytr, Xte = data
    d = tmp_path_factory.mktemp("dask-cli")
    write_xc(d / "train.txt", Xtr, Ytr)
    write_xc(d / "test.txt", Xte, sp.csr_matrix(Xte.shape[:1] + (Ytr.shape[1],)))
    local.save(d / "model.npz")
    return d


SMALL_CLI = [
    "--n-learners",
    "2",
    "--n-clusters",
    "3",
    "--n-components",
    "16",
    "--n-graph-neighbors",
    "20",
    "--n-neighbors",
    "10",
    "--svp-max-iter",
    "10",
    "--random-state",
    "0",
]


@pytest.mark.slow
def test_cli_train_and_predict_on_the_scheduler_equal_local(cluster, files, capsys):
    d, address = files, cluster.scheduler_address
    for name, extra in (("local", []), ("dask", ["--scheduler", address])):
        assert (
            cli.main(
                [
                    "train",
                    "--train",
                    str(d / "train.txt"),
                    "--model",
                    str(d / f"{name}.npz"),
                    *SMALL_CLI,
                    *extra,
                ]
            )
            == 0
        )
    with np.load(d / "local.npz") as a, np.load(d / "dask.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        # the fit's record (its seconds) differs, and with it the checksum; the model does not
        for key in set(a.files) - {"fit_info", "checksum"}:
            np.testing.assert_array_equal(a[key], b[key])
        info_a, info_b = json.loads(str(a["fit_info"])), json.loads(str(b["fit_info"]))
        assert info_a.pop("fit_seconds") > 0 and info_b.pop("fit_seconds") > 0
        assert info_a == info_b
    for out in ("pred.npz", "pred.txt"):
        for name, extra in (
            ("local", []),
            ("dask", ["--scheduler", address, "--chunk-size", "64"]),
        ):
            assert (
                cli.main(
                    [
                        "predict",
                        "--model",
                        str(d / "model.npz"),
                        "--test",
                        str(d / "test.txt"),
                        "--k",
                        "5",
                        "--out",
                        str(d / f"{name}-{out}"),
                        *extra,
                    ]
                )
                == 0
            )
        assert (d / f"local-{out}").read_bytes() == (d / f"dask-{out}").read_bytes()
    assert "Traceback" not in capsys.readouterr().err


def test_cli_reports_an_unreachable_scheduler_in_one_line(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sleec.distributed._CONNECT_TIMEOUT", 0.5)
    d = files
    cases = [
        (
            ["train", "--train", str(d / "train.txt"), "--model", str(tmp_path / "m.npz")],
            "tcp://127.0.0.1:1",
            "cannot connect to a Dask scheduler at 'tcp://127.0.0.1:1'",
        ),
        (
            [
                "predict",
                "--model",
                str(d / "model.npz"),
                "--test",
                str(d / "test.txt"),
                "--out",
                str(tmp_path / "p.npz"),
            ],
            "nope://host",
            "bad Dask scheduler address 'nope://host'",
        ),
    ]
    for argv, address, message in cases:
        assert cli.main([*argv, "--scheduler", address]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert err.startswith("sleec: error: ") and message in err
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "p.npz").exists()


def test_cli_scheduler_without_the_dask_extra_says_what_to_install(
    files, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    argv = [
        "predict",
        "--model",
        str(files / "model.npz"),
        "--test",
        str(files / "test.txt"),
        "--out",
        str(tmp_path / "p.npz"),
        "--scheduler",
        "tcp://127.0.0.1:1",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        len(err.strip().splitlines()) == 1
        and "pip install distributed" in err
        and 'pip install ".[dask]"' in err
    )


def test_cli_chunk_size_needs_a_scheduler(files, tmp_path, capsys):
    argv = [
        "predict",
        "--model",
        str(files / "model.npz"),
        "--test",
        str(files / "test.txt"),
        "--out",
        str(tmp_path / "p.npz"),
        "--chunk-size",
        "10",
    ]
    assert cli.main(argv) == 1
    assert "--chunk-size needs --scheduler" in capsys.readouterr().err
