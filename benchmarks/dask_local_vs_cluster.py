"""Training time, local (joblib threads) vs a Dask LocalCluster, on a synthetic 10^5-point set.

Makes ``make_xmc(n, 20_000, 10_000, random_state=0)``, trains ``SLEEC(n_learners=1,
random_state=0)`` (``n_clusters="auto"``: n // 15000 clusters, large ones split) once with
``n_jobs=2`` in this process, then once on a ``LocalCluster(n_workers=2,
threads_per_worker=1)`` through joblib's Dask backend; prints the wall times (cluster
start-up apart), the peak RSS of this process during each fit (the LocalCluster's scheduler
runs in it) and of each worker, and checks that the two models are identical. Numba kernels
are loaded by a small warm-up fit on both sides first, so neither timing includes them.

With ``--task-memory``: instead, the peak memory of one (learner, cluster) task (``n_c``
points, the default parameters) for several feature counts, each in a fresh subprocess.

    python benchmarks/dask_local_vs_cluster.py
    python benchmarks/dask_local_vs_cluster.py --task-memory --n-c 6000 --n-features 5000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np

from sleec import SLEEC, make_xmc


def peak_rss_mb() -> float:
    """Peak resident memory of the calling process since it started or since
    :func:`reset_peak` (Linux; not ``ru_maxrss``, which a spawned process inherits)."""
    return _proc_status_mb("VmHWM")


def reset_peak() -> None:
    """Restart the calling process's peak-memory mark at its current use (Linux)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def model_differences(a: SLEEC, b: SLEEC) -> list[str]:
    """Where two ensembles differ (centres, rows, regressors, embeddings); [] if identical."""
    out = []
    for i, (la, lb) in enumerate(zip(a.learners_, b.learners_, strict=True)):
        if not np.array_equal(la.centers, lb.centers):
            out.append(f"learner {i}: centres")
        for c, (ca, cb) in enumerate(zip(la.locals, lb.locals, strict=True)):
            if not np.array_equal(ca.rows, cb.rows):
                out.append(f"learner {i} cluster {c}: rows")
            elif not np.array_equal(ca.E, cb.E) or (ca.W != cb.W).nnz:
                out.append(
                    f"learner {i} cluster {c} ({ca.rows.size} points): max |dE| "
                    f"{np.abs(ca.E - cb.E).max():.3g}, {(ca.W != cb.W).nnz} W entries"
                )
    return out


def local_vs_cluster(n_samples: int, n_workers: int) -> dict:
    """Wall seconds of the local and the cluster fit, peak memory, and whether they agree."""
    import distributed

    out: dict = {"n_samples": n_samples, "n_workers": n_workers}
    sources = _source_stamps()
    start = time.perf_counter()
    X, Y = make_xmc(n_samples, 20_000, 10_000, random_state=0)
    out["make_xmc_s"] = time.perf_counter() - start
    out["X_nnz"], out["Y_nnz"] = int(X.nnz), int(Y.nnz)
    warm_X, warm_Y = X[:2000], Y[:2000]
    params = {"n_learners": 1, "random_state": 0}
    SLEEC(**params, n_clusters=2, n_jobs=2).fit(warm_X, warm_Y)

    reset_peak()
    start = time.perf_counter()
    local = SLEEC(**params, n_jobs=2).fit(X, Y)
    out["local_fit_s"] = time.perf_counter() - start
    out["tasks"] = sum(len(learner.locals) for learner in local.learners_)
    out["local_peak_rss_mb"] = peak_rss_mb()

    reset_peak()
    start = time.perf_counter()
    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out["cluster_start_s"] = time.perf_counter() - start
        with joblib.parallel_config(backend="dask"):
            SLEEC(**params, n_clusters=2).fit(warm_X, warm_Y)
            start = time.perf_counter()
            with distributed.get_task_stream(client) as stream:
                remote = SLEEC(**params).fit(X, Y)
            out["cluster_fit_s"] = time.perf_counter() - start
        out["task_s"] = sorted(
            round(
                sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute"),
                2,
            )
            for task in stream.data
            if "_fit_task" in task["key"]
        )
        out["worker_peak_rss_mb"] = sorted(client.run(peak_rss_mb).values())
    out["client_and_scheduler_peak_rss_mb"] = peak_rss_mb()
    out["differences"] = model_differences(local, remote)
    out["identical"] = not out["differences"]
    if _source_stamps() != sources:  # the workers may have imported other code
        out["warning"] = "sleec's source files changed during the run"
    return out


def _source_stamps() -> dict[str, int]:
    """Modification times of sleec's modules (a check that both fits ran the same code)."""
    import sleec

    root = Path(sleec.__file__).parent
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.py"))}


def task_memory(n_c: int, n_features: int) -> dict:
    """Peak memory of one (learner, cluster) task of ``n_c`` points (default parameters)."""
    import gc
    import tracemalloc

    from sleec.cluster_model import fit_cluster, prepare_features
    from sleec.params import ClusterConfig

    X, Y = make_xmc(n_c, n_features, 10_000, random_state=0)
    Xf, _ = prepare_features(X, normalize=True)
    config = ClusterConfig.from_params(SLEEC().validated_params(), parallel_kernels=False)
    fit_cluster(Xf[:300], Y[:300], np.arange(300, dtype=np.int32), config, seed=1)  # warm-up
    gc.collect()
    reset_peak()
    base_mb = _proc_status_mb("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    fit_cluster(Xf, Y, np.arange(n_c, dtype=np.int32), config, seed=1)
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    return {
        "n_c": n_c,
        "n_features": n_features,
        "seconds": seconds,
        "rss_peak_minus_start_mb": _proc_status_mb("VmHWM") - base_mb,
        "numpy_peak_mb": traced_peak,
    }


def _proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-samples", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--task-memory",
        action="store_true",
        help="measure one task's peak memory instead (one subprocess per size)",
    )
    ap.add_argument("--n-c", type=int, default=6000, help="points of the task's cluster")
    ap.add_argument("--n-features", type=int, nargs="+", default=[5000, 20_000, 100_000])
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # subprocess mode
    args = ap.parse_args(argv)
    if args.task_memory and args.one:
        print(json.dumps(task_memory(args.n_c, args.n_features[0])))
        return 0
    if args.task_memory:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        for d in args.n_features:
            line = (
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--task-memory",
                        "--one",
                        "--n-c",
                        str(args.n_c),
                        "--n-features",
                        str(d),
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            result = json.loads(line)
            print(
                f"n_c={result['n_c']} d={result['n_features']}: "
                f"{result['rss_peak_minus_start_mb']:.0f} MB resident above the start "
                f"({result['numpy_peak_mb']:.0f} MB NumPy allocations at the peak), "
                f"{result['seconds']:.1f} s",
                flush=True,
            )
        return 0
    result = local_vs_cluster(args.n_samples, args.workers)
    print(
        f"{result['n_samples']} points, {result['tasks']} tasks; local (n_jobs=2): "
        f"{result['local_fit_s']:.1f} s; LocalCluster ({args.workers} workers x 1 thread): "
        f"start {result['cluster_start_s']:.1f} s, fit {result['cluster_fit_s']:.1f} s; "
        f"identical models: {result['identical']}; task seconds (cluster) "
        f"{min(result['task_s'])}..{max(result['task_s'])}, sum {sum(result['task_s']):.1f}"
        + (f"; WARNING: {result['warning']}" if "warning" in result else "")
    )
    print(json.dumps(result))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
