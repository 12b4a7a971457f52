"""``sleec demo``: train and evaluate on the bundled Bibtex set, beside the published SLEEC
figures."""

from __future__ import annotations

import argparse
import time

from .. import datasets, metrics
from ..estimator import SLEEC
from ..presets import PRESETS
from . import _shared as sh
from ._options import Parents
from .parameters import parse_int, parse_positive_int
from .progress import Progress, status

# Published SLEEC results on Bibtex (percent, @1/@3/@5).
PUBLISHED_BIBTEX = {
    "XC repo": {"P": (65.08, 39.64, 28.87), "PSP": (51.12, 53.95, 59.56)},
    "paper": {"P": (65.57, 40.02, 29.30)},
}


def add_parser(sub, parents: Parents) -> None:
    demo = sub.add_parser(
        "demo",
        parents=[parents.common],
        help="train and evaluate on the bundled Bibtex data set",
        description="Train SLEEC on the bundled Bibtex data set (preset 'bibtex', "
        "random_state=0), evaluate it on the test part and compare with the "
        "published SLEEC numbers.",
    )
    demo.add_argument(
        "--k", type=parse_positive_int, default=5, help="largest cut-off (default: 5)"
    )
    demo.add_argument(
        "--n-jobs",
        type=parse_int,
        default=None,
        metavar="N",
        help="parallel training tasks (default: 1; -1: all cores)",
    )
    demo.add_argument(
        "--preset",
        type=str.lower,
        choices=sorted(PRESETS),
        default="bibtex",
        metavar="NAME",
        help="parameter preset (default: bibtex)",
    )
    demo.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown by default when stderr is a terminal)",
    )
    demo.set_defaults(handler=run, parser=demo)


def run(args: argparse.Namespace) -> int:
    X_tr, Y_tr, X_te, Y_te = datasets.load_bibtex()
    model = SLEEC.from_preset(args.preset, random_state=0, n_jobs=args.n_jobs)
    model.validated_params()
    shown = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in PRESETS[args.preset].items()
    )
    print(
        f"SLEEC on Bibtex (bundled; {X_tr.shape[0]} training / {X_te.shape[0]} test points, "
        f"{X_tr.shape[1]} features, {Y_tr.shape[1]} labels)"
    )
    print(f"preset {args.preset!r}: {shown}, random_state=0", flush=True)
    start = time.perf_counter()
    with Progress("training", enabled=False if args.no_progress else None, unit="step") as progress:
        if not progress.enabled:
            status("training...")
        model.fit(X_tr, Y_tr, callback=progress)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    ids, _ = model.predict_topk(X_te, args.k)
    predict_ms = 1000 * (time.perf_counter() - start) / X_te.shape[0]
    inv_prop = metrics.inverse_propensity(Y_tr, metrics.PROPENSITY_A, metrics.PROPENSITY_B)
    results = metrics.evaluate(Y_te, ids, args.k, inv_prop)
    ks = sh.report_ks(args.k)

    sources = list(PUBLISHED_BIBTEX)
    header = f"{'metric':<9}{'this run':>10}" + "".join(f"{s:>10}" for s in sources)
    lines = ["", "percent; published = SLEEC (Bhatia et al. 2015)", header, "-" * len(header)]
    for name in ("P", "nDCG", "PSP"):
        for j in ks:
            row = f"{name + '@' + str(j):<9}{100 * results[name][j - 1]:>10.2f}"
            for s in sources:
                published = PUBLISHED_BIBTEX[s].get(name)
                pos = {1: 0, 3: 1, 5: 2}.get(j)
                cell = "-" if published is None or pos is None else f"{published[pos]:.2f}"
                row += f"{cell:>10}"
            lines.append(row)
    lines += [
        "",
        f"training: {train_s:.1f} s   prediction: {predict_ms:.2f} ms per point "
        f"({X_te.shape[0]} test points, top {args.k})",
        f"PSP: propensities from the training labels, A={metrics.PROPENSITY_A}, "
        f"B={metrics.PROPENSITY_B}.",
    ]
    if args.preset != "bibtex":
        lines.append(f"note: the published numbers use the 'bibtex' preset, not {args.preset!r}.")
    print("\n".join(lines))
    return 0
