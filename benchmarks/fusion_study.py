"""Fusion of the second stage's scores, measured on held-out parts of training sets.

For a dataset's held-out split 0 (as select_second_stage.py makes it), the stage is trained
once; its shortlists of the validation points are split in two halves by point. On half A
each fusion is fitted (the mix weight of the linear and the geometric fusion chosen by the
mean of P@1/3/5; a logistic regression over candidate features trained on whether a
candidate is a true label), and all are scored on half B: P@1/3/5 and PSP@5.

Candidate features of the learned fusion: the vote share, the inverse of the label's rank in
the votes (0 when the votes do not reach it), the ranker's margin, the cosine of the point
with the label's centroid, and log(1 + the label's training points).

    python benchmarks/fusion_study.py --dataset wordnet
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import holdout_split, load_training_set  # noqa: E402
from select_second_stage import base_model  # noqa: E402

from sleec import _fit, _predict  # noqa: E402
from sleec._rank_kernels import pair_margins_by_feature  # noqa: E402
from sleec.cluster_model import prepare_features  # noqa: E402
from sleec.metrics import evaluate, inverse_propensity  # noqa: E402
from sleec.params import QueryConfig, RerankConfig  # noqa: E402


def scores(Y, cand, fused, inv_prop) -> list[float]:
    sl = _predict.Shortlist(cand, cand, cand, np.where(cand < 0, -np.inf, fused))
    ids, _ = _predict.best_of(sl, 5)
    r = evaluate(Y, ids, 5, inv_prop)
    return [round(100 * float(r[m][j]), 2) for m, j in (("P", 0), ("P", 2), ("P", 4), ("PSP", 4))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="wordnet")
    ap.add_argument("--shortlist", type=int, nargs=2, default=[100, 100])
    ap.add_argument("--rankers", default='{"ranker_loss": "squared_hinge", "ranker_c": 1.0}')
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    X, Y = load_training_set(args.dataset)
    fit_rows, val_rows = holdout_split(X.shape[0], 0)
    model, _ = base_model(args.dataset, X, Y, 0, fit_rows)
    state = model.state_
    params = {
        **model.get_params(),
        "shortlist_votes": args.shortlist[0],
        "shortlist_centroids": args.shortlist[1],
        "ranker_threshold": 0.1,
        **json.loads(args.rankers),
    }
    features, routing = prepare_features(X[fit_rows], state.normalize)
    mined = _fit.mine_negatives(features, routing, Y[fit_rows], state.learners, params)
    stage = _fit.train_stage(mined, params, 0, _fit.Steps(None, 0))
    state = dataclasses.replace(state, second_stage=stage)
    X_val, Y_val = X[val_rows], Y[val_rows]
    (batch,) = _predict.batches(state, X_val, X_val.shape[0], state.learners,
                                QueryConfig.from_params(params))  # fmt: skip
    sl = _predict.shortlist_scores(state, batch, RerankConfig.from_params(params))
    cand, votes = sl.candidates, sl.votes
    probs = np.where(np.isnan(sl.probs), votes, sl.probs)
    rows = stage.rows_of(cand)
    unit = stage.columns(batch.routing)
    cosines = np.zeros(cand.shape, np.float32)
    C_T = stage.centroids_T
    pair_margins_by_feature(unit.indptr, unit.indices, unit.data, rows, C_T.indptr, C_T.indices,
                            C_T.data, np.zeros(stage.labels.size, np.float32),
                            stage.labels.size, 64, cosines)  # fmt: skip
    n_votes = args.shortlist[0]
    rank = np.zeros(cand.shape)
    rank[:, :n_votes] = np.where(votes[:, :n_votes] > 0, 1.0 / np.arange(1, n_votes + 1), 0)
    margin = np.log(np.clip(probs, 1e-6, 1 - 1e-6) / np.clip(1 - probs, 1e-6, 1))
    freq = np.bincount(Y[fit_rows].indices, minlength=Y.shape[1])
    logf = np.log1p(freq[np.maximum(cand, 0)])
    feats = np.stack([votes, rank, margin, np.where(cand < 0, 0, cosines), logf], axis=-1)
    n = cand.shape[0]
    half = np.random.default_rng(0).permutation(n) < n // 2
    inv_prop = inverse_propensity(Y[fit_rows], n_labels=Y.shape[1])
    truth = Y_val.tocsr()
    hit = np.zeros(cand.shape, bool)
    for i in range(n):
        hit[i] = np.isin(cand[i], truth.indices[truth.indptr[i] : truth.indptr[i + 1]])
    A, B = np.flatnonzero(half), np.flatnonzero(~half)
    out = {"dataset": args.dataset, "shortlist": args.shortlist, "rankers": args.rankers}
    for name, fuse in (
        ("linear", lambda a: a * votes + (1 - a) * probs),
        ("geometric", lambda a: (votes + 1e-3) ** a * probs ** (1 - a)),
    ):
        grid = np.round(np.arange(0.0, 1.01, 0.1), 2)
        best = max(grid, key=lambda a: np.mean(scores(Y_val[A], cand[A], fuse(a)[A], inv_prop)[:3]))
        out[name] = {
            "mix": float(best),
            "half B": scores(Y_val[B], cand[B], fuse(best)[B], inv_prop),
        }
    valid = cand[A] >= 0
    scaler = StandardScaler().fit(feats[A][valid])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(
        scaler.transform(feats[A][valid]), hit[A][valid]
    )
    learned = lr.predict_proba(scaler.transform(feats.reshape(-1, feats.shape[-1])))[:, 1]
    out["learned"] = {"half B": scores(Y_val[B], cand[B], learned.reshape(cand.shape)[B], inv_prop),
                      "coef": np.round(lr.coef_[0], 3).tolist()}  # fmt: skip
    out["votes only"] = {"half B": scores(Y_val[B], cand[B], votes[B], inv_prop)}
    out["rankers only"] = {"half B": scores(Y_val[B], cand[B], probs[B], inv_prop)}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
