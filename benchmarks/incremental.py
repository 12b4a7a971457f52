"""Learning new points without retraining (partial_fit) against a full refit.

For each share s: fit on the first (1 - s) of a seeded permutation of the training set, add
the remaining s with ``partial_fit`` in ``--chunks`` chunks, and compare test P@1/3/5 and
PSP@5 with a fit on the whole training set (same parameters and random_state), and with the
model before the points were added.

    python benchmarks/incremental.py --dataset bibtex --shares 0.1 0.25 0.5 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import load_dataset  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec.metrics import evaluate, inverse_propensity  # noqa: E402


def scores(model: SLEEC, X, Y, inv_prop) -> np.ndarray:
    ids, _ = model.predict_topk(X, 5)
    r = evaluate(Y, ids, 5, inv_prop)
    return 100 * np.array([r["P"][0], r["P"][2], r["P"][4], r["PSP"][4]])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bibtex")
    ap.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--preset", default="dataset", help="a preset name, 'dataset' or 'none'")
    args = ap.parse_args(argv)
    Xtr, Ytr, Xte, Yte = load_dataset(args.dataset)
    inv_prop = inverse_propensity(Ytr)
    preset = {"dataset": args.dataset, "none": None}.get(args.preset, args.preset)
    rows = {}
    for seed in range(args.seeds):

        def make(seed=seed):
            return (
                SLEEC.from_preset(preset, random_state=seed) if preset else SLEEC(random_state=seed)
            )

        full = make().fit(Xtr, Ytr)
        rows.setdefault("full refit", []).append(scores(full, Xte, Yte, inv_prop))
        order = np.random.default_rng(seed).permutation(Xtr.shape[0])
        for share in args.shares:
            cut = int(round((1 - share) * order.size))
            base, added = order[:cut], order[cut:]
            model = make().fit(Xtr[base], Ytr[base])
            rows.setdefault(f"base only ({1 - share:.0%})", []).append(
                scores(model, Xte, Yte, inv_prop)
            )
            start = time.perf_counter()
            for chunk in np.array_split(added, args.chunks):
                model.partial_fit(Xtr[chunk], Ytr[chunk])
            seconds = time.perf_counter() - start
            rows.setdefault(f"+{share:.0%} by partial_fit", []).append(
                scores(model, Xte, Yte, inv_prop)
            )
            print(
                f"seed {seed} share {share}: {added.size} points added in {seconds:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"{args.dataset}, preset {preset}, mean of {args.seeds} seeds, {args.chunks} "
        "chunks; test P@1 / P@3 / P@5 / PSP@5"
    )
    for name, values in rows.items():
        m = np.mean(values, axis=0)
        print(f"| {name} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
