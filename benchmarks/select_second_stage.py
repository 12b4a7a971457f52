"""Choose the second stage's defaults on held-out parts of *training* sets (never a test split).

For each dataset and held-out split (80% fit, 20% validation; split ``s`` drawn from seed
``100 + s`` as in select_defaults.py), the base SLEEC (library defaults, second stage off)
is fitted once and cached; then for each shortlist setting the hard negatives are mined once,
for each ranker setting the rankers are trained once, and every fusion weight is scored on
the validation points: P@1/3/5, nDCG@5 and PSP@5, the shortlist's recall of the validation
labels, seconds, ranker weights and the second stage's prediction ms per point. One JSON
line per (dataset, split, shortlist, rankers) goes to --json.

    python benchmarks/select_second_stage.py --dataset wordnet --splits 0 \\
        --shortlists '[[50, 50]]' --rankers '[{"ranker_c": 10}]' --json sel.jsonl

Datasets: bibtex, delicious, wordnet, verbs (the WordNet verb glosses shipped in
examples/data, tf-idf fitted on the fit part), synthetic:N[:SEED] (make_xmc). The defaults
in SLEEC come from the summary this script prints over every dataset of a --json file
(``--summary sel.jsonl``): the setting with the largest mean + smallest gain over the base
model at P@1, P@3 and P@5 across all datasets (benchmarks/evidence/select_second_stage.jsonl
holds the runs behind the defaults).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import holdout_split, load_training_set  # noqa: E402

from sleec import SLEEC, _fit, _predict, rerank  # noqa: E402
from sleec.cluster_model import prepare_features  # noqa: E402
from sleec.metrics import evaluate, inverse_propensity  # noqa: E402
from sleec.params import QueryConfig, RerankConfig  # noqa: E402

METRICS = ("P@1", "P@3", "P@5", "nDCG@5", "PSP@5")
CACHE = HERE / ".cache"


def scores_of(Y_val, ids, inv_prop) -> list[float]:
    r = evaluate(Y_val, ids, 5, inv_prop)
    return [round(100 * float(x), 2) for x in (r["P"][0], r["P"][2], r["P"][4], r["nDCG"][4],
                                                r["PSP"][4])]  # fmt: skip


def base_model(name, X, Y, split, fit_rows) -> tuple[SLEEC, float]:
    """The base SLEEC of a split, fitted once and cached in benchmarks/.cache."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name.replace(':', '_')}_split{split}.npz"
    if path.exists():
        return SLEEC.load(path), float("nan")
    model = SLEEC(random_state=split, n_jobs=2, shortlist_votes=0, shortlist_centroids=0)
    start = time.perf_counter()
    model.fit(X[fit_rows], Y[fit_rows])
    seconds = time.perf_counter() - start
    model.save(path)
    return model, seconds


def run_split(name, X, Y, split, shortlists, rankers, mixes, json_path) -> None:
    fit_rows, val_rows = holdout_split(X.shape[0], split)
    X_fit, Y_fit, X_val, Y_val = X[fit_rows], Y[fit_rows], X[val_rows], Y[val_rows]
    model, base_s = base_model(name, X, Y, split, fit_rows)
    state = model.state_
    inv_prop = inverse_propensity(Y_fit, n_labels=Y.shape[1])
    query = QueryConfig.from_params(model.get_params())
    (batch,) = list(_predict.batches(state, X_val, X_val.shape[0], state.learners, query))
    base_ids, _ = _predict.top_labels(state, batch.votes, 5)
    base = scores_of(Y_val, base_ids, inv_prop)
    print(f"{name} split {split}: base {dict(zip(METRICS, base, strict=True))}", flush=True)
    features, routing = prepare_features(X_fit, state.normalize)
    for n_votes, n_centroids in shortlists:
        params = {**model.get_params(), "shortlist_votes": n_votes,
                  "shortlist_centroids": n_centroids}  # fmt: skip
        start = time.perf_counter()
        mined = _fit.mine_negatives(features, routing, Y_fit, state.learners, params)
        mine_s = time.perf_counter() - start
        for ranker in rankers:
            params.update(ranker)
            start = time.perf_counter()
            stage = _fit.train_stage(mined, params, seed=split, steps=_fit.Steps(None, 0))
            rank_s = time.perf_counter() - start
            state2 = dataclasses.replace(state, second_stage=stage)
            config = RerankConfig.from_params(params)
            start = time.perf_counter()
            shortlist = _predict.shortlist_scores(state2, batch, config)
            stage_ms = 1000 * (time.perf_counter() - start) / X_val.shape[0]
            cand = np.sort(shortlist.candidates, axis=1)[:, ::-1].copy()
            recall = evaluate(Y_val, cand, cand.shape[1])["R"][-1]
            by_mix = {}
            for mix in mixes:
                fused = _predict.Shortlist(
                    shortlist.candidates,
                    shortlist.votes,
                    shortlist.probs,
                    np.where(
                        shortlist.candidates < 0,
                        -np.inf,
                        rerank.fuse(shortlist.votes, shortlist.probs, mix),
                    ),
                )
                ids, _ = _predict.best_of(fused, 5)
                by_mix[str(mix)] = scores_of(Y_val, ids, inv_prop)
            row = {
                "dataset": name,
                "split": split,
                "shortlist": [n_votes, n_centroids],
                "rankers": ranker,
                "base": base,
                "by_mix": by_mix,
                "shortlist_recall": round(100 * float(recall), 2),
                "base_fit_s": round(base_s, 1),
                "mine_s": round(mine_s, 1),
                "rankers_s": round(rank_s, 1),
                "weights_M": round(stage.W.nnz / 1e6, 3),
                "centroid_nnz_M": round(stage.centroid_sums.nnz / 1e6, 3),
                "stage_ms_per_point": round(stage_ms, 3),
                "negatives_per_point": round(float((mined.negatives >= 0).sum(1).mean()), 1),
            }
            best = max(by_mix, key=lambda m: sum(by_mix[m][:3]))
            print(
                f"  shortlist {n_votes}+{n_centroids} {json.dumps(ranker)}: best mix {best} "
                f"{by_mix[best]} (recall {row['shortlist_recall']}%, mine {mine_s:.0f} s, "
                f"rankers {rank_s:.0f} s, {row['weights_M']}M weights, "
                f"{stage_ms:.3f} ms/pt)",
                flush=True,
            )
            if json_path is not None:
                with open(json_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")


def summary(path: Path) -> None:
    """Per setting (shortlist, rankers, mix): the gain over the base at P@1/3/5 on each
    dataset (mean over its splits and runs), the mean over datasets and the smallest gain;
    settings ranked by mean + smallest, so that the typical and the worst-case gain count
    alike (the best mean alone favours the large sets, the best worst case the small)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    gains: dict[str, dict[str, list]] = {}
    for r in rows:
        for mix, values in r["by_mix"].items():
            key = json.dumps({"shortlist": r["shortlist"], **r["rankers"], "mix": float(mix)})
            delta = np.subtract(values[:3], r["base"][:3])
            gains.setdefault(key, {}).setdefault(r["dataset"], []).append(delta)
    datasets = sorted({r["dataset"] for r in rows})
    table = []
    for key, per in gains.items():
        if set(per) != set(datasets):
            continue  # a setting must be measured on every dataset
        means = np.array([np.mean(per[d], axis=0) for d in datasets])
        table.append((means.mean(), means.min(), key, means))
    table.sort(key=lambda t: -(t[0] + t[1]))
    print(f"datasets: {', '.join(datasets)}; gain over the base in P@1/3/5 points")
    for mean, low, key, means in table[:15]:
        per = "  ".join(f"{d} {'/'.join(f'{x:+.2f}' for x in m)}" for d, m in
                        zip(datasets, means, strict=True))  # fmt: skip
        print(f"{key}: mean + worst {mean + low:+.2f} (mean {mean:+.2f}, worst {low:+.2f}) | {per}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="*", default=["bibtex"])
    ap.add_argument("--splits", type=int, nargs="*", default=[0])
    ap.add_argument("--shortlists", default="[[50, 50]]", help="JSON list of [votes, centroids]")
    ap.add_argument("--rankers", default='[{"ranker_c": 10.0}]', help="JSON list of settings")
    ap.add_argument("--mixes", type=float, nargs="*", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    ap.add_argument("--json", type=Path, help="append one JSON line per setting here")
    ap.add_argument("--summary", type=Path, help="only summarise this --json file")
    args = ap.parse_args(argv)
    if args.summary is not None:
        summary(args.summary)
        return 0
    warnings.simplefilter("ignore")  # clipped tiny clusters on the small sets
    for name in args.dataset:
        X, Y = load_training_set(name)
        for split in args.splits:
            run_split(
                name,
                X,
                sp.csr_matrix(Y),
                split,
                json.loads(args.shortlists),
                json.loads(args.rankers),
                args.mixes,
                args.json,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
