"""Choose ``n_probes`` (approximate neighbour search) on held-out parts of *training* sets.

For each dataset, held-out split (80% fit, 20% validation, split ``s`` from seed ``100 +
s`` as in select_defaults.py) and each ``n_probes`` value, fits SLEEC with library
defaults and that ``n_probes`` (the second stage's leave-one-out mining searches the same
way), then scores the validation points with it and with exact search on the same model
(``n_probes=0``): P@1/3/5, nDCG@5, PSP@5, fit seconds and prediction ms per point. One
JSON line per (dataset, split, n_probes) goes to --json; ``--summary`` prints, per value,
the change against exact search (``n_probes=0`` fitted and searched exactly) per dataset.

    python benchmarks/select_search.py --dataset bibtex delicious wordnet --probes 0 8 16 32 \\
        --json benchmarks/evidence/select_search.jsonl
    python benchmarks/select_search.py --summary benchmarks/evidence/select_search.jsonl

Times are indicative only (one run; compare.py measures speed beside the peers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import load_training_set  # noqa: E402
from select_defaults import holdout_split  # noqa: E402

from sleec import SLEEC  # noqa: E402
from sleec.metrics import evaluate, inverse_propensity  # noqa: E402

METRICS = ("P@1", "P@3", "P@5", "nDCG@5", "PSP@5")


def scores_of(Y_val, ids, inv_prop) -> list[float]:
    r = evaluate(Y_val, ids, 5, inv_prop)
    return [round(100 * float(x), 2) for x in (r["P"][0], r["P"][2], r["P"][4], r["nDCG"][4],
                                                r["PSP"][4])]  # fmt: skip


def timed_topk(model: SLEEC, X) -> tuple[np.ndarray, float]:
    model.predict_topk(X[: min(500, X.shape[0])], 5)  # kernels compiled, cells built
    start = time.perf_counter()
    ids, _ = model.predict_topk(X, 5)
    return ids, 1000 * (time.perf_counter() - start) / X.shape[0]


def run(name: str, split: int, probes: list[int], json_path: Path | None) -> None:
    X, Y = load_training_set(name)
    fit_rows, val_rows = holdout_split(X.shape[0], split)
    X_fit, Y_fit, X_val, Y_val = X[fit_rows], Y[fit_rows], X[val_rows], Y[val_rows]
    inv_prop = inverse_propensity(Y_fit)
    for n_probes in probes:
        model = SLEEC(random_state=split, n_jobs=2, n_probes=n_probes)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_fit, Y_fit)
            fit_s = time.perf_counter() - start
            ids, ms = timed_topk(model, X_val)
            exact_ids, exact_ms = timed_topk(model.set_params(n_probes=0), X_val)
        row = {
            "dataset": name,
            "split": split,
            "n_probes": n_probes,
            "fit_s": round(fit_s, 2),
            "ms_per_point": round(ms, 4),
            "scores": scores_of(Y_val, ids, inv_prop),
            "exact_search_ms_per_point": round(exact_ms, 4),
            "exact_search_scores": scores_of(Y_val, exact_ids, inv_prop),
        }
        print(json.dumps(row), flush=True)
        if json_path is not None:
            with json_path.open("a") as out:
                out.write(json.dumps(row) + "\n")


def summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    base = {(r["dataset"], r["split"]): r for r in rows if r["n_probes"] == 0}
    by_probes: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        ref = base.get((r["dataset"], r["split"]))
        if ref is None:
            continue
        gain = np.subtract(r["scores"], ref["scores"])
        same_model = np.subtract(r["scores"], r["exact_search_scores"])
        by_probes[r["n_probes"]][r["dataset"]].append(
            (gain, same_model, r["fit_s"] / ref["fit_s"], r["ms_per_point"] / ref["ms_per_point"])
        )
    datasets = sorted({r["dataset"] for r in rows})
    print(
        "change against the model fitted and searched exactly, P@1/P@3/P@5; [against exact "
        "search on the same model]; (fit time, prediction time ratios)"
    )
    print("| n_probes | " + " | ".join(datasets) + " |")
    print("|---" * (len(datasets) + 1) + "|")
    for n_probes in sorted(by_probes):
        cells = []
        for name in datasets:
            runs = by_probes[n_probes].get(name)
            if not runs:
                cells.append("-")
                continue
            gain = np.mean([g for g, *_ in runs], axis=0)
            same = np.mean([s for _, s, _, _ in runs], axis=0)
            fit = np.median([f for *_, f, _ in runs])
            pred = np.median([p for *_, p in runs])
            cells.append(
                "/".join(f"{x:+.2f}" for x in gain[:3])
                + " ["
                + "/".join(f"{x:+.2f}" for x in same[:3])
                + f"] (x{fit:.2f}, x{pred:.2f})"
            )
        print(f"| {n_probes} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="*", default=["bibtex"])
    ap.add_argument("--splits", type=int, nargs="*", default=[0])
    ap.add_argument("--probes", type=int, nargs="*", default=[0, 8, 16, 32])
    ap.add_argument("--json", type=Path, help="append one JSON line per setting here")
    ap.add_argument("--summary", type=Path, help="only summarise this --json file")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    for name in args.dataset:
        for split in args.splits:
            run(name, split, args.probes, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
