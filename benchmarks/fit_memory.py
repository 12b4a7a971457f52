"""Memory of one SLEEC fit above its training data, and its time.

``compare.py`` reports each library's peak RSS over its whole process, which at 10^6
points is set by generating the data (every library peaks near the same figure). This
script loads or generates the training split, then restarts the process's peak-memory mark
and fits ``SLEEC(random_state=0, n_jobs=2)`` (library defaults, or JSON parameters): it
prints the resident memory before the fit, the peak during the fit and its growth, the
fit seconds and the fitted model's arrays (Linux: ``/proc/self``).

    python benchmarks/fit_memory.py --dataset synthetic:1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import load_dataset  # noqa: E402
from dask_local_vs_cluster import _proc_status_mb, peak_rss_mb, reset_peak  # noqa: E402

from sleec import SLEEC  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthetic:1000000", help="as in compare.py")
    ap.add_argument("--params", default="{}", help="JSON SLEEC parameters")
    args = ap.parse_args(argv)
    Xtr, Ytr, Xte, Yte = load_dataset(args.dataset)
    del Xte, Yte
    data_mb = (Xtr.data.nbytes + Xtr.indices.nbytes + Ytr.data.nbytes + Ytr.indices.nbytes) / 2**20
    before = _proc_status_mb("VmRSS")
    reset_peak()
    start = time.perf_counter()
    model = SLEEC(**{"random_state": 0, "n_jobs": 2, **json.loads(args.params)}).fit(Xtr, Ytr)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    arrays = model.state_.to_arrays()
    by_kind: dict[str, float] = {}
    for name, value in arrays.items():
        kind = name.split("_")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + value.nbytes / 2**20
    print(
        f"{args.dataset}: {Xtr.shape[0]} points, X and Y {data_mb:.0f} MB; RSS before the fit "
        f"{before:.0f} MB, peak during it {peak:.0f} MB (+{peak - before:.0f} MB); "
        f"fit {seconds:.1f} s"
    )
    largest = sorted(by_kind.items(), key=lambda kv: -kv[1])[:6]
    print("model arrays (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in largest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
