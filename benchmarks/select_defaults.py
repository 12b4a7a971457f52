"""Choose defaults on held-out parts of the *training* data (the test split is never read).

For each dataset and each candidate setting, trains on 80% of the training set and measures
P@1/3/5, nDCG@5 and PSP@5 on the other 20%, over one or more random splits (split ``s`` is
drawn from seed ``100 + s`` and the model gets ``random_state=s``), and prints the mean and
standard deviation with the fit and prediction seconds and the process's peak memory so far.
This is how the defaults documented in ``SLEEC``'s docstring and in BENCHMARKS.md were chosen.

    python benchmarks/select_defaults.py --dataset bibtex \
        --variants '[{}, {"weighting": "uniform"}]'
    python benchmarks/select_defaults.py --dataset wordnet --seeds 1 \
        --variants '[{}, {"n_clusters": 2}, {"n_clusters": 4}]'

Each variant is a JSON object of SLEEC parameters. It applies on top of the dataset's preset
when sleec has one (bibtex, delicious) and of the library defaults otherwise;
``{"preset": null, ...}`` starts from the library defaults, ``{"preset": "eurlex-4k", ...}``
from another preset. The split keeps the rows in their file order (the k-means start depends
on it). Run it alone on the machine when the seconds matter.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import load_dataset  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec.metrics import evaluate, inverse_propensity  # noqa: E402
from sleec.presets import PRESETS  # noqa: E402

METRICS = ("P@1", "P@3", "P@5", "nDCG@5", "PSP@5")


def holdout_split(n_rows: int, split: int, share: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (fit, validation) of held-out split ``split`` of ``n_rows`` rows."""
    perm = np.random.default_rng(100 + split).permutation(n_rows)
    cut = int(share * n_rows)
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def make_model(dataset: str, variant: dict, seed: int, n_jobs: int) -> SLEEC:
    params = dict(variant)
    preset = params.pop("preset", dataset if dataset in PRESETS else None)
    params.setdefault("n_jobs", n_jobs)
    if preset:
        return SLEEC.from_preset(preset, random_state=seed, **params)
    return SLEEC(random_state=seed, **params)


def holdout_run(X, Y, dataset: str, variant: dict, split: int, n_jobs: int) -> dict:
    """Fit on split ``split``'s 80%, score its 20%: metrics in percent, seconds, peak MB."""
    fit_rows, val_rows = holdout_split(X.shape[0], split)
    model = make_model(dataset, variant, split, n_jobs)
    t0 = time.perf_counter()
    model.fit(X[fit_rows], Y[fit_rows])
    fit_s = time.perf_counter() - t0
    model.predict_topk(X[val_rows][:16], 5)  # untimed warm-up, as in compare.py
    t0 = time.perf_counter()
    ids, _ = model.predict_topk(X[val_rows], 5)
    predict_s = time.perf_counter() - t0
    r = evaluate(Y[val_rows], ids, 5, inverse_propensity(Y[fit_rows]))
    scores = [r["P"][0], r["P"][2], r["P"][4], r["nDCG"][4], r["PSP"][4]]
    return {
        "dataset": dataset,
        "variant": variant,
        "split": split,
        **{m: round(100 * float(v), 2) for m, v in zip(METRICS, scores, strict=True)},
        "fit_s": round(fit_s, 2),
        "predict_s": round(predict_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bibtex", help="as in compare.py (training part only)")
    ap.add_argument("--variants", default="[{}]", help="JSON list of parameter overrides")
    ap.add_argument("--seeds", type=int, default=3, help="number of splits (0, 1, ...)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, help="append one JSON line per (variant, split) here")
    args = ap.parse_args(argv)
    variants = json.loads(args.variants)
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        ap.error("--variants must be a JSON list of objects, e.g. '[{}, {\"n_clusters\": 2}]'")
    X, Y, _, _ = load_dataset(args.dataset)  # the test part is dropped here
    for variant in variants:
        runs = []
        for split in range(args.seeds):
            run = holdout_run(X, Y, args.dataset, variant, split, args.n_jobs)
            runs.append(run)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write(json.dumps(run) + "\n")
        table = np.array([[run[m] for m in METRICS] for run in runs])
        mean, sd = table.mean(0), table.std(0)
        figures = " ".join(f"{m} {mu:.2f}" for m, mu in zip(METRICS, mean, strict=True))
        print(
            f"{args.dataset} {json.dumps(variant)}: {figures} (P@1 sd {sd[0]:.2f} over "
            f"{len(runs)} splits); fit {np.mean([r['fit_s'] for r in runs]):.1f} s, predict "
            f"{np.mean([r['predict_s'] for r in runs]):.2f} s, peak "
            f"{max(r['peak_rss_mb'] for r in runs)} MB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
