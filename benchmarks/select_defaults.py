"""Choose defaults on held-out parts of the *training* data (the test split is never read).

For each dataset and each candidate setting, trains on 80% of the training set and measures
P@1/3/5 on the other 20%, over several random splits (one seed per split), and prints the mean
and standard deviation. This is how the defaults documented in ``SLEEC``'s docstring were
chosen.

    python benchmarks/select_defaults.py --dataset bibtex \
        --variants '[{}, {"weighting": "uniform"}]'

Each variant is a JSON object of SLEEC parameters applied on top of the dataset's preset;
``{"preset": null, ...}`` starts from the library defaults instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import load_dataset  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec.metrics import precision_at_k  # noqa: E402


def holdout_scores(name: str, variant: dict, seeds: list[int]) -> tuple[np.ndarray, float]:
    """P@1/3/5 (percent) per split and the mean training seconds."""
    X, Y, _, _ = load_dataset(name)  # training part only
    params = dict(variant)
    preset = params.pop("preset", name)
    scores, seconds = [], []
    for seed in seeds:
        perm = np.random.default_rng(100 + seed).permutation(X.shape[0])
        cut = int(0.8 * perm.size)
        fit_rows, val_rows = perm[:cut], perm[cut:]
        model = (
            SLEEC.from_preset(preset, random_state=seed, **params)
            if preset
            else SLEEC(random_state=seed, **params)
        )
        t0 = time.perf_counter()
        model.fit(X[fit_rows], Y[fit_rows])
        seconds.append(time.perf_counter() - t0)
        ids, _ = model.predict_topk(X[val_rows], 5)
        scores.append(100 * precision_at_k(Y[val_rows], ids, 5)[[0, 2, 4]])
    return np.array(scores), float(np.mean(seconds))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bibtex")
    ap.add_argument("--variants", default="[{}]", help="JSON list of parameter overrides")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    for variant in json.loads(args.variants):
        scores, seconds = holdout_scores(args.dataset, variant, list(range(args.seeds)))
        mean, sd = scores.mean(0), scores.std(0)
        print(
            f"{args.dataset} {json.dumps(variant)}: P@1/3/5 "
            f"{mean[0]:.2f}/{mean[1]:.2f}/{mean[2]:.2f} (sd {sd[0]:.2f}/{sd[1]:.2f}/"
            f"{sd[2]:.2f}), fit {seconds:.1f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
