"""The evidence behind keeping ``W`` and ``E`` at float16 precision (half_precision.jsonl).

Ran on commit 165403f with the dense regressor layout of the commit after it, before the fit
rounded ``W`` and ``E``: fit library defaults on 80% of a
training set (held-out split ``SPLIT``), then score the other 20% with the model as fitted
and with ``E``, ``W`` or both rounded to float16 (the same model otherwise). Later commits
round them at fit (to float16, then from db142c6 to 8-bit codes, which this rounding would
corrupt), so it reproduces its figures only on the commit named; it is kept to show how the
figures were made.

    python benchmarks/evidence/half_precision_probe.py bibtex 0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import holdout_split, load_training_set  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec._state import FittedState  # noqa: E402
from sleec.metrics import inverse_propensity, precision_at_k, psprecision_at_k  # noqa: E402


def score(model, X, Y, ip) -> list[float]:
    ids, _ = model.predict_topk(X, k=5)
    P = precision_at_k(Y, ids, 5)
    psp = psprecision_at_k(Y, ids, ip, 5)
    return [round(100 * float(P[j]), 2) for j in (0, 2, 4)] + [round(100 * float(psp[4]), 2)]


def rounded(model: SLEEC, names: list[str]) -> SLEEC:
    arrays = dict(model.state_.to_arrays())
    for name in names:
        if name in arrays:
            arrays[name] = arrays[name].astype(np.float16).astype(np.float32)
    copy = SLEEC(**model.get_params())
    copy.__dict__.update(model.__dict__)
    copy.state_ = FittedState.from_arrays(arrays)
    return copy


def main() -> None:
    name, split = sys.argv[1], int(sys.argv[2])
    X, Y = load_training_set(name)
    fit_rows, val_rows = holdout_split(X.shape[0], split)
    model = SLEEC(random_state=split, n_jobs=2).fit(X[fit_rows], Y[fit_rows])
    ip = inverse_propensity(Y[fit_rows], n_labels=Y.shape[1])
    Xv, Yv = X[val_rows], Y[val_rows]
    out = {"set": name, "split": split, "float32": score(model, Xv, Yv, ip)}
    for label, names in [
        ("E16", ["E"]),
        ("W16", ["W_dense", "W_data"]),
        ("EW16", ["E", "W_dense", "W_data"]),
    ]:
        out[label] = score(rounded(model, names), Xv, Yv, ip)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
