"""Where a fit's time goes: seconds per SLEEC stage, from one profiled fit.

Fits ``SLEEC(random_state=0, n_jobs=1)`` (library defaults, or a preset / JSON parameters)
on a dataset's training split under cProfile and prints the cumulative wall seconds of each
stage function with its share of the fit. ``n_jobs=1`` keeps every task in the profiled
thread; the tasks' numba kernels then use both cores (row-parallel), as one task does when
it runs alone. Numba kernels are compiled by a small warm-up fit first.

    python benchmarks/profile_fit.py --dataset wordnet
    python benchmarks/profile_fit.py --dataset synthetic:100000 --params '{"n_learners": 1}'
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import load_dataset  # noqa: E402

from sleec import SLEEC, make_xmc  # noqa: E402

# (label, module file, function): the stages of fit, in the order they run.
STAGES = (
    ("input checks and label encoding", "_validation.py", "check_matrix"),
    ("input checks and label encoding", "_labels.py", "encode"),
    ("feature preparation (unit rows)", "cluster_model.py", "prepare_features"),
    ("step 1: k-means partition", "clustering.py", "partition"),
    ("cluster rows and columns", "_sparse.py", "select_columns"),
    ("step 2: label kNN graph", "graph.py", "label_knn_graph"),
    ("step 3: SVP embedding", "svp.py", "svp_embed"),
    ("step 4: ridge by CG", "regression.py", "fit_l2"),
    ("step 4: ADMM (l1_reg > 0)", "regression.py", "fit_l1"),
    ("step 4: pruning W", "regression.py", "prune_weights"),
    ("step 4: training embeddings", "cluster_model.py", "_product"),
    ("step 4: training embeddings", "regression.py", "prune_embeddings"),
    ("second stage: leave-one-out votes (mining)", "_fit.py", "mined_vote_shortlist"),
    ("second stage: nearest centroids (mining)", "rerank.py", "centroid_topk"),
    ("second stage: rankers", "_fit.py", "_fit_rankers"),
)


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each stage function found in the profile."""
    out: dict[str, float] = {}
    for label, filename, func in STAGES:
        total = sum(
            row[3]  # cumulative time
            for (path, _, name), row in stats.stats.items()
            if name == func and path.endswith(filename)
        )
        if total:
            out[label] = out.get(label, 0.0) + total
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="wordnet", help="as in compare.py")
    ap.add_argument("--params", default="{}", help="JSON SLEEC parameters ('preset': NAME)")
    args = ap.parse_args(argv)
    params = json.loads(args.params)
    preset = params.pop("preset", None)
    Xtr, Ytr, _, _ = load_dataset(args.dataset)

    def model() -> SLEEC:
        kwargs = {"random_state": 0, **params, "n_jobs": 1}
        return SLEEC.from_preset(preset, **kwargs) if preset else SLEEC(**kwargs)

    SLEEC(n_learners=1, n_components=8, random_state=0).fit(*make_xmc(300, 50, 20))  # compile
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    model().fit(Xtr, Ytr)
    profiler.disable()
    total = time.perf_counter() - start
    stages = stage_seconds(pstats.Stats(profiler))
    print(f"{args.dataset}: {Xtr.shape[0]} points, fit {total:.1f} s (profiled, n_jobs=1)")
    for label, seconds in stages.items():
        print(f"  {label:<44} {seconds:7.2f} s  {100 * seconds / total:5.1f}%")
    rest = total - sum(stages.values())
    print(f"  {'everything else':<44} {rest:7.2f} s  {100 * rest / total:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
