"""Side-by-side benchmark of sleec and peer XMC libraries on one or more datasets.

Each (library, repetition) runs in its own subprocess (``_worker.py``), so peak memory is per
library; all get the same thread count. Prints, per dataset, a table of medians over the
repetitions: P@1/3/5, PSP@1/3/5, training seconds, prediction ms per point, peak RSS, model
size, and the ratio of the time/memory/size figures to sleec's. Writes the same as JSON.

    python benchmarks/compare.py --dataset bibtex --repeats 3
    python benchmarks/compare.py --dataset delicious --libs sleec omikuji --json out.json
    python benchmarks/compare.py --dataset wordnet synthetic:100000 synthetic:1000000 \
        --libs sleec omikuji napkinxc pecos knn --skip synthetic:1000000:knn

Peers (install with ``pip install -r benchmarks/requirements-peers.txt`` and then
``pip install --no-deps libpecos``): omikuji (Parabel defaults), napkinxc (PLT defaults),
libpecos XR-Linear (defaults), libmultilabel one-vs-rest linear, and a plain cosine kNN
(10 neighbours, written in _worker.py). A peer that cannot be imported is reported and
skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODULES = {
    "sleec": "sleec",
    "omikuji": "omikuji",
    "napkinxc": "napkinxc",
    "pecos": "pecos",
    "libmultilabel": "libmultilabel",
    "knn": "sklearn",  # plain cosine kNN, written in _worker.py
}


def run_once(lib: str, dataset: str, threads: int, sleec_params: str, seed: int = 0) -> dict:
    """Run the worker in a subprocess; its peak RSS comes from ``wait4``'s rusage."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [
        sys.executable,
        str(HERE / "_worker.py"),
        "--lib",
        lib,
        "--dataset",
        dataset,
        "--threads",
        str(threads),
        "--sleec-params",
        sleec_params,
        "--seed",
        str(seed),
    ]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{lib} failed: {err.read().decode()[-2000:]}")
        # Some peers print to stdout: the worker's JSON is the last line.
        result = json.loads(out.read().decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0  # Linux reports KiB
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dataset",
        nargs="+",
        default=["bibtex"],
        help="one or more of: bibtex, delicious, wordnet, synthetic:N (make_xmc), or "
        "TRAIN,TEST XC files; each gets its own table, all in this one run",
    )
    ap.add_argument("--libs", nargs="+", default=list(MODULES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="DATASET:LIB",
        help="pairs not to run, e.g. synthetic:1000000:knn (brute-force kNN at 10^6)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--sleec-params",
        default="{}",
        help="JSON: SLEEC parameters; 'preset': NAME or null (library defaults); "
        "by default the dataset's preset where one exists",
    )
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)

    reports = []
    for dataset in args.dataset:
        rows, skipped = {}, {}
        for lib in args.libs:
            if f"{dataset}:{lib}" in args.skip:
                skipped[lib] = "skipped (--skip)"
                continue
            if importlib.util.find_spec(MODULES[lib]) is None:
                skipped[lib] = "not importable"
                print(f"skipping {lib}: not importable", file=sys.stderr)
                continue
            runs = []
            for rep in range(args.repeats):
                t0 = time.perf_counter()
                try:
                    runs.append(run_once(lib, dataset, args.threads, args.sleec_params, seed=rep))
                except RuntimeError as exc:
                    skipped[lib] = str(exc).splitlines()[-1]
                    print(f"skipping {lib}: {exc}", file=sys.stderr)
                    break
                print(
                    f"{dataset} {lib} run {rep + 1}/{args.repeats} done in "
                    f"{time.perf_counter() - t0:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if runs:
                rows[lib] = _median(runs)
        print(format_table(rows, dataset, args), flush=True)
        reports.append(
            {
                "dataset": dataset,
                "threads": args.threads,
                "repeats": args.repeats,
                "machine": _machine(),
                "versions": _versions(rows),
                "results": rows,
                "skipped": skipped,
            }
        )
        if args.json:  # after each dataset, so a long run keeps what it has
            args.json.write_text(
                json.dumps(reports if len(args.dataset) > 1 else reports[0], indent=2)
            )
    return 0


def _median(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key in ("train_s", "predict_ms_per_point", "peak_rss_mb", "model_bytes"):
        out[key] = float(np.median([r[key] for r in runs]))
        out[key + "_all"] = [r[key] for r in runs]
    for key in ("P", "nDCG", "PSP", "PSnDCG"):
        out[key] = np.median([r[key] for r in runs], axis=0).tolist()
    return out


def format_table(rows: dict, dataset: str, args) -> str:
    head = (
        f"{'library':<14}{'P@1':>7}{'P@3':>7}{'P@5':>7}{'N@3':>7}{'N@5':>7}"
        f"{'PSP@1':>7}{'PSP@3':>7}"
        f"{'PSP@5':>7}{'train s':>9}{'ms/pt':>8}{'RSS MB':>8}{'model MB':>9}"
        f"{'train x':>9}{'pred x':>8}{'RSS x':>7}{'size x':>8}"
    )
    lines = [
        f"dataset {dataset}, threads {args.threads}, median of {args.repeats} runs "
        "(sleec: random_state = run index); N = nDCG; 'x' columns are ratios to sleec "
        "(> 1: the peer is slower/larger)",
        head,
    ]
    base = rows.get("sleec")
    for lib, r in rows.items():

        def ratio(key, r=r):
            return f"{r[key] / base[key]:.2f}" if base and base[key] else "-"

        p, ps = [100 * x for x in r["P"]], [100 * x for x in r["PSP"]]
        nd = [100 * x for x in r["nDCG"]]
        lines.append(
            f"{lib:<14}{p[0]:>7.2f}{p[2]:>7.2f}{p[4]:>7.2f}{nd[2]:>7.2f}{nd[4]:>7.2f}"
            f"{ps[0]:>7.2f}{ps[2]:>7.2f}"
            f"{ps[4]:>7.2f}{r['train_s']:>9.2f}{r['predict_ms_per_point']:>8.3f}"
            f"{r['peak_rss_mb']:>8.0f}{r['model_bytes'] / 1e6:>9.2f}{ratio('train_s'):>9}"
            f"{ratio('predict_ms_per_point'):>8}{ratio('peak_rss_mb'):>7}"
            f"{ratio('model_bytes'):>8}"
        )
    return "\n".join(lines)


def _machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor(),
    }


def _versions(rows: dict) -> dict:
    from importlib import metadata

    names = {
        "sleec": "sleec",
        "omikuji": "omikuji",
        "napkinxc": "napkinxc",
        "pecos": "libpecos",
        "libmultilabel": "libmultilabel",
    }
    out = {}
    for lib in list(rows) + ["numpy", "scipy", "numba"]:
        try:
            out[lib] = metadata.version(names.get(lib, lib))
        except metadata.PackageNotFoundError:
            out[lib] = "?"
    return out


if __name__ == "__main__":
    raise SystemExit(main())
