"""What a model file holds: its size by part, and the test-set P@k of the same model.

Fits ``SLEEC(random_state=0, n_jobs=2)`` (library defaults, or a preset / JSON parameters)
on each dataset's training split, saves it, and prints the file's MB split into the stored
embeddings ``E``, the regressors ``W``, the second stage's rankers and label centroids, the
training labels and the rest, with P@1/3/5 of the fitted model and of the loaded one (they
must be equal: the file stores exactly what the model predicts with).

    python benchmarks/model_size.py --dataset bibtex delicious wordnet
    python benchmarks/model_size.py --dataset bibtex --params '{"preset": "bibtex"}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_dataset  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec.metrics import precision_at_k  # noqa: E402

PARTS = {  # member-name prefix -> part of the model
    "E.": "E",
    "W_": "W",
    "rank_": "rankers",
    "centroid_": "centroids",
    "train_labels_": "training labels",
}


def parts_mb(path: Path) -> dict[str, float]:
    """MB per part of a model file (members as stored, uncompressed)."""
    sizes = dict.fromkeys([*PARTS.values(), "rest"], 0.0)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            part = next((p for pre, p in PARTS.items() if info.filename.startswith(pre)), "rest")
            sizes[part] += info.file_size / 1e6
    return sizes


def measure(name: str, params: dict) -> dict:
    Xtr, Ytr, Xte, Yte = load_dataset(name)
    start = time.perf_counter()
    settings = {"random_state": 0, "n_jobs": 2, **params}
    preset = settings.pop("preset", None)
    model = (SLEEC.from_preset(preset, **settings) if preset else SLEEC(**settings)).fit(Xtr, Ytr)
    fit_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        model.save(path)
        total = path.stat().st_size / 1e6
        parts = parts_mb(path)
        loaded = SLEEC.load(path)
    ids, scores = model.predict_topk(Xte, k=5)
    ids2, scores2 = loaded.predict_topk(Xte, k=5)
    P = precision_at_k(Yte, ids, 5)
    return {
        "dataset": name,
        "params": params,
        "model_mb": round(total, 2),
        "parts_mb": {k: round(v, 2) for k, v in parts.items()},
        "P@1/3/5": [round(100 * float(P[j]), 2) for j in (0, 2, 4)],
        "loaded_predicts_the_same": bool(
            np.array_equal(ids, ids2) and np.array_equal(scores, scores2)
        ),
        "fit_s": round(fit_s, 1),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="+", default=["bibtex"])
    ap.add_argument("--params", default="{}", help="JSON SLEEC parameters")
    args = ap.parse_args(argv)
    for name in args.dataset:
        print(json.dumps(measure(name, json.loads(args.params))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
