"""The evidence behind the model file's 8-bit ``E`` and ``W`` and float16 second stage
(quantize.jsonl).

Ran on commit 9076363 (``E`` and ``W`` at float16, the second stage at float32) with
``sleec._quantize.quantize_rows`` of the next commit: fit library defaults on 80% of a
training set (held-out split ``SPLIT``), then score the other 20% with the model as fitted
and with some of its arrays rounded (the same model otherwise), P@1 / P@3 / P@5, PSP@5:

- ``E8``: each cluster's stored embeddings on a per-column affine 8-bit grid (the layout
  adopted); ``E8s``: per-column symmetric instead;
- ``W8``: each cluster's regressor on a per-column symmetric 8-bit grid; ``W8r``: per row
  (one feature; the layout adopted);
- ``R16`` / ``C16``: the rankers' weights / the centroid sums in float16 (adopted).

It reads the float layout of format 3: from commit db142c6 on, the file holds ``E`` and
``W`` as 8-bit codes and the rounding here is refused at load, so it runs only in a checkout
of 9076363 with ``sleec/_quantize.py`` copied in; it is kept to show how the figures were
made.

    python benchmarks/evidence/quantize_probe.py bibtex 0
    python benchmarks/evidence/quantize_probe.py wordnet 1 W8r,E8+W8r+R16+C16
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import holdout_split, load_training_set  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec._quantize import quantize_rows  # noqa: E402
from sleec._state import FittedState  # noqa: E402
from sleec.metrics import inverse_propensity, precision_at_k, psprecision_at_k  # noqa: E402

DEFAULT_VARIANTS = "E8,E8s,W8,R16,C16,E8+R16+C16,E8+W8+R16+C16,W8r,E8+W8r+R16+C16"


def score(model, X, Y, ip) -> list[float]:
    ids, _ = model.predict_topk(X, k=5)
    P = precision_at_k(Y, ids, 5)
    psp = psprecision_at_k(Y, ids, ip, 5)
    return [round(100 * float(P[j]), 2) for j in (0, 2, 4)] + [round(100 * float(psp[4]), 2)]


def affine8(B: np.ndarray) -> np.ndarray:
    low, high = B.min(0), B.max(0)
    scale = ((high - low) / np.float32(255)).astype(np.float32)
    scale[scale == 0] = 1
    codes = np.clip(np.rint((B - low) / scale), 0, 255).astype(np.uint8)
    return codes.astype(np.float32) * scale + low


def symmetric8(B: np.ndarray) -> np.ndarray:
    scale = (np.abs(B).max(0) / np.float32(127)).astype(np.float32)
    scale[scale == 0] = 1
    return np.clip(np.rint(B / scale), -127, 127).astype(np.int8).astype(np.float32) * scale


def rows8(B: np.ndarray) -> np.ndarray:
    return quantize_rows(sp.csr_matrix(B))[0].toarray()


def by_cluster(values: np.ndarray, offsets: np.ndarray, rounding) -> np.ndarray:
    out = values.astype(np.float32)
    for start, stop in zip(offsets[:-1], offsets[1:], strict=True):
        if stop > start:
            out[start:stop] = rounding(out[start:stop])
    return out


def rounded(model: SLEEC, which: list[str]) -> SLEEC:
    a = dict(model.state_.to_arrays())  # the dense regressor layout (W_dense) on these sets
    rounding = {
        "E8": ("E", "rows_offsets", affine8),
        "E8s": ("E", "rows_offsets", symmetric8),
        "W8": ("W_dense", "features_offsets", symmetric8),
        "W8r": ("W_dense", "features_offsets", rows8),
    }
    for name in which:
        if name in rounding:
            member, offsets, fn = rounding[name]
            a[member] = by_cluster(a[member], a[offsets], fn)
        else:
            member = {"R16": "rank_data", "C16": "centroid_data"}[name]
            a[member] = a[member].astype(np.float16).astype(np.float32)
    copy = SLEEC(**model.get_params())
    copy.__dict__.update(model.__dict__)
    copy.state_ = FittedState.from_arrays(a)
    return copy


def main() -> None:
    name, split = sys.argv[1], int(sys.argv[2])
    variants = sys.argv[3] if len(sys.argv) > 3 else DEFAULT_VARIANTS
    X, Y = load_training_set(name)
    fit_rows, val_rows = holdout_split(X.shape[0], split)
    model = SLEEC(random_state=split, n_jobs=2).fit(X[fit_rows], Y[fit_rows])
    ip = inverse_propensity(Y[fit_rows], n_labels=Y.shape[1])
    Xv, Yv = X[val_rows], Y[val_rows]
    out = {"set": name, "split": split, "as_fitted": score(model, Xv, Yv, ip)}
    for variant in variants.split(","):
        out[variant] = score(rounded(model, variant.split("+")), Xv, Yv, ip)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
