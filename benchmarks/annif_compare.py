"""sleec beside omikuji as Annif backends, measured by Annif's own commands.

On Annif's archaeology corpus (6,404 Finnish titles with YSO subjects and 28 full-text
documents, ``../shared/data/annif-archaeology``): an 80/20 seeded split of
``documents.tsv``; ``annif load-vocab``, then per backend ``annif train`` on the training
part, ``annif eval --limit 10`` on the test part and on ``fulltext/``, and ``annif suggest
--limit 10`` on the same documents (as text files) for the hits at 5. Prints one Markdown
table per corpus and writes the figures as JSON.

    python benchmarks/annif_compare.py                      # sleec defaults, omikuji defaults
    python benchmarks/annif_compare.py --select 30          # + sleec chosen on a dev split
    python benchmarks/annif_compare.py --setting "nn100:preset=bibtex,n_neighbors=100"

Columns: NDCG, Precision@1 and F1@5 are ``annif eval``'s (its Precision@k divides by the
number of suggestions a document got, at most k); hits@5 divides the true subjects among
each document's first 5 suggestions by 5 whatever their number (the script counts them in
``annif suggest``'s output); suggestions per document are ``annif eval``'s (true + false
positives) / documents with limit 10. ``eval s`` is the wall time of the whole ``annif
eval`` command (interpreter start-up and model load included); ``ms/doc`` the time of
suggesting the test documents in batches of 32 inside one process (Python API, model
loaded); latency the median of 20 one-document ``project.suggest`` calls through the
Python API after 5 warm-up calls (a test title; in the full-text table a full-text
document). Model size: the files a project needs to suggest (omikuji: its model directory
and the pickled vectoriser; sleec: its one model file), not the training caches.

``--select N`` chooses a sleec setting without looking at the test part: it splits the
training part 80/20 again (same seed), trains sleec with library defaults on the first
part and runs ``annif hyperopt --trials N`` on the second (the backend's hyperopt searches
``n_neighbors`` and ``ranker_mix``, prediction-time parameters), then trains the chosen
setting on the whole training part as one more row.

Needs Annif, omikuji and sleec in the running environment (``pip install ".[annif]"
omikuji``). NLTK's ``punkt_tab`` data is used when installed; otherwise (no download on
machines without network) a folder with its four files empty is made, with which NLTK
still tokenises words (both backends see the same tokens).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SLEEC_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
VOCAB_ID = "yso-arch"
ANNIF = str(Path(sys.executable).with_name("annif"))
PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")
PROJECT = """[{pid}]
name={pid}
language=fi
backend={backend}
analyzer=snowball(finnish)
vocab={vocab}
{extra}
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "annif-archaeology")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temp one)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="one more sleec row with these projects.cfg keys (repeatable)",
    )
    ap.add_argument(
        "--select", type=int, default=0, metavar="TRIALS", help="choose a sleec row on a dev split"
    )
    ap.add_argument("--latency-calls", type=int, default=20)
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="CALLS",
        help="cProfile this many one-document suggest calls of the 'sleec' row",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="annif-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    env = _environment(work)
    os.environ.update(env)  # for the in-process measurements (Annif reads them at import)
    train, test, dev_train, dev = _split(args.data / "documents.tsv", work, args.seed)
    fulltext = args.data / "fulltext"
    test_files = _as_text_files(test, work / "test-docs")

    rows = {
        "omikuji": ("omikuji", "Annif defaults", {}),
        "sleec": ("sleec", "library defaults", {}),
    }
    for spec in args.setting:
        name, _, keys = spec.partition(":")
        rows[f"sleec-{name}"] = ("sleec", keys.replace(",", ", "), _keys(keys))
    _write_projects(work, rows)
    _annif(env, "load-vocab", VOCAB_ID, str(args.data / "yso-archaeology.ttl"))

    selection = None
    if args.select:
        selection = _select(env, work, rows, dev_train, dev, args.select)
        rows["sleec-chosen"] = (
            "sleec",
            ", ".join(f"{k} {v}" for k, v in selection["params"].items())
            + " (annif hyperopt on a dev split of the training part)",
            selection["params"],
        )
        _write_projects(work, rows)

    results = {}
    for pid in rows:
        results[pid] = _measure(env, work, pid, train, test, test_files, fulltext, args)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "versions": _versions(),
        },
        "split": {"seed": args.seed, "train": _count(train), "test": _count(test)},
        "selection": selection,
        "rows": {pid: {"backend": b, "settings": s} for pid, (b, s, _) in rows.items()},
        "results": results,
    }
    if args.profile:
        report["profile"] = _profile("sleec", test_files[0][0], args.profile)
    _print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}")


# ------------------------------------------------------------------------------ set-up
def _environment(work: Path) -> dict[str, str]:
    env = {
        "ANNIF_PROJECTS": str(work / "projects.cfg"),
        "ANNIF_DATADIR": str(work / "data"),
        "ANNIF_CONFIG": "sleec.annif.Config",
    }
    try:
        import nltk.data

        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        english = work / "nltk" / "tokenizers" / "punkt_tab" / "english"
        english.mkdir(parents=True, exist_ok=True)
        for name in PUNKT_FILES:
            (english / name).touch()
        env["NLTK_DATA"] = str(work / "nltk")
        nltk.data.path.insert(0, env["NLTK_DATA"])  # nltk read NLTK_DATA at its import
    return env


def _split(documents: Path, work: Path, seed: int) -> tuple[Path, Path, Path, Path]:
    """80/20 of the documents (train, test), and 80/20 of the training part (dev)."""
    lines = [line for line in documents.read_text(encoding="utf-8").splitlines() if line]
    random.Random(seed).shuffle(lines)
    cut = int(0.8 * len(lines))
    train, test = lines[:cut], lines[cut:]
    dev_cut = int(0.8 * len(train))
    paths = []
    for name, part in [
        ("train", train),
        ("test", test),
        ("dev-train", train[:dev_cut]),
        ("dev", train[dev_cut:]),
    ]:
        path = work / f"{name}.tsv"
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        paths.append(path)
    return tuple(paths)


def _as_text_files(tsv: Path, folder: Path) -> list[tuple[Path, set[str]]]:
    """Each document of a TSV corpus as a .txt file (for ``annif suggest``), with its
    subject URIs."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, line in enumerate(tsv.read_text(encoding="utf-8").splitlines()):
        text, _, subjects = line.partition("\t")
        path = folder / f"{i:05d}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        out.append((path, set(re.findall(r"<([^>]+)>", subjects))))
    return out


def _fulltext_files(folder: Path) -> list[tuple[Path, set[str]]]:
    out = []
    for path in sorted(folder.glob("*.txt")):
        subjects = path.with_suffix(".tsv").read_text(encoding="utf-8")
        out.append((path, set(re.findall(r"<([^>]+)>", subjects))))
    return out


def _keys(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    return {k.strip(): v.strip() for k, v in pairs}


def _write_projects(work: Path, rows: dict) -> None:
    sections = [
        PROJECT.format(
            pid=pid,
            backend=backend,
            vocab=VOCAB_ID,
            extra="\n".join(f"{k}={v}" for k, v in keys.items()),
        )
        for pid, (backend, _, keys) in rows.items()
    ]
    (work / "projects.cfg").write_text("\n".join(sections), encoding="utf-8")


def _annif(env: dict, *args: str) -> tuple[str, float]:
    """Run one ``annif`` command; (stdout, wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run(
        [ANNIF, *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"annif {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout, seconds


# ---------------------------------------------------------------------------- measure
def _measure(env, work, pid, train, test, test_files, fulltext, args) -> dict:
    print(f"[{pid}] train", file=sys.stderr, flush=True)
    _, train_s = _annif(env, "train", pid, str(train))
    out = {
        "train_s": round(train_s, 2),
        "model_bytes": _model_bytes(work / "data" / "projects" / pid),
    }
    for corpus, path, files in [
        ("test", test, test_files),
        ("fulltext", fulltext, _fulltext_files(fulltext)),
    ]:
        print(f"[{pid}] eval and suggest on {corpus}", file=sys.stderr, flush=True)
        metrics_file = work / f"metrics-{pid}-{corpus}.json"
        _, eval_s = _annif(
            env, "eval", pid, "--limit", "10", "--metrics-file", str(metrics_file), str(path)
        )
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        suggested = _suggest_files(env, pid, [p for p, _ in files])
        hits5 = [len(set(suggested[str(p)][:5]) & gold) / 5 for p, gold in files]
        n_docs = metrics["Documents_evaluated"]
        out[corpus] = {
            "NDCG": metrics["NDCG"],
            "Precision@1": metrics["Precision@1"],
            "F1@5": metrics["F1@5"],
            "hits@5/5": statistics.fmean(hits5),
            "suggestions_per_doc": (metrics["True_positives"] + metrics["False_positives"])
            / n_docs,
            "suggestions_per_doc_suggest": statistics.fmean(len(v) for v in suggested.values()),
            "documents": n_docs,
            "eval_s": round(eval_s, 2),
        }
    out.update(_in_process(pid, test_files, _fulltext_files(fulltext), args.latency_calls))
    return out


def _suggest_files(env: dict, pid: str, paths: list[Path]) -> dict[str, list[str]]:
    """URIs ``annif suggest --limit 10`` gives each file, best first."""
    stdout, _ = _annif(env, "suggest", pid, "--limit", "10", *map(str, paths))
    out: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("Suggestions for "):
            current = out.setdefault(line[len("Suggestions for ") :], [])
        elif line.startswith("<") and current is not None:
            current.append(line[1 : line.index(">")])
    missing = [p for p in paths if str(p) not in out]
    if missing:
        sys.exit(f"annif suggest printed nothing for {len(missing)} file(s), e.g. {missing[0]}")
    return out


_APP = None


def _in_process(pid: str, test_files, fulltext_files, calls: int) -> dict:
    """ms per document over the test split in batches of 32, and one-document latency."""
    import annif
    import annif.registry
    from annif.corpus import Document

    global _APP
    if _APP is None:  # one app (one registry) for every project measured in this process
        _APP = annif.create_flask_app("sleec.annif.Config")
    with _APP.app_context():
        project = annif.registry.get_project(pid)
        project.initialize()
        texts = [p.read_text(encoding="utf-8") for p, _ in test_files]
        start = time.perf_counter()
        for i in range(0, len(texts), 32):
            project.suggest([Document(text=t) for t in texts[i : i + 32]])
        per_doc_ms = 1000 * (time.perf_counter() - start) / len(texts)
        latency = {}
        for name, text in [
            ("title", texts[0]),
            ("fulltext", fulltext_files[0][0].read_text(encoding="utf-8")),
        ]:
            doc = [Document(text=text)]
            for _ in range(5):
                project.suggest(doc)
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                project.suggest(doc)
                times.append(time.perf_counter() - t)
            latency[name] = 1000 * statistics.median(times)
    return {"batch_ms_per_doc": per_doc_ms, "latency_ms": latency}


# (label, file name ending, function name) of the calls a one-document suggestion makes
PROFILED = [
    ("project.suggest (Annif)", "annif/project.py", "suggest"),
    ("  analyzer.tokenize_words (snowball)", "annif/analyzer/analyzer.py", "tokenize_words"),
    ("  TfidfVectorizer.transform", "sklearn/feature_extraction/text.py", "transform"),
    ("  suggestion_batch (backend)", "sleec/_annif_backend.py", "suggestion_batch"),
    ("    SLEEC.predict_topk", "sleec/estimator.py", "predict_topk"),
    ("      validated_params (x2)", "sleec/estimator.py", "validated_params"),
    ("      prediction_threads (threadpoolctl)", "sleec/_predict.py", "prediction_threads"),
    ("      prepare_features", "sleec/cluster_model.py", "prepare_features"),
    ("      ensemble_votes", "sleec/cluster_model.py", "ensemble_votes"),
    ("        route (assign to clusters)", "sleec/cluster_model.py", "route"),
    ("        embed", "sleec/cluster_model.py", "embed"),
    ("        nearest_neighbors", "sleec/neighbors.py", "nearest_neighbors"),
    ("          _screen", "sleec/neighbors.py", "_screen"),
    ("            _coarse_center", "sleec/neighbors.py", "_coarse_center"),
    ("      shortlist_scores (second stage)", "sleec/_predict.py", "shortlist_scores"),
    ("      no_information", "sleec/_predict.py", "no_information"),
]


def _profile(pid: str, doc_path: Path, calls: int) -> dict:
    """cProfile ``calls`` one-document ``project.suggest`` calls; ms per call of the
    functions of :data:`PROFILED` (cumulative: a function's callees included; of several
    same-named functions in one file, the one taking longest)."""
    import cProfile
    import pstats

    import annif.registry
    from annif.corpus import Document

    with _APP.app_context():
        project = annif.registry.get_project(pid)
        doc = [Document(text=doc_path.read_text(encoding="utf-8"))]
        for _ in range(5):
            project.suggest(doc)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(calls):
            project.suggest(doc)
        profiler.disable()
        wall = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats
    out = {"calls": calls, "wall_ms_per_call": 1000 * wall / calls, "ms_per_call": {}}
    for label, ending, name in PROFILED:
        cum = max(  # the outermost of same-named functions (TfidfTransformer.transform)
            (
                v[3]
                for (path, _, func), v in stats.items()
                if path.endswith(ending) and func == name
            ),
            default=0.0,
        )
        out["ms_per_call"][label] = 1000 * cum / calls
    return out


def _model_bytes(datadir: Path) -> dict[str, int]:
    """Sizes of what a project needs to suggest (Annif's "*-train*" caches left out)."""
    sizes: dict[str, int] = {}
    for path in sorted(datadir.rglob("*")):
        if path.is_file() and "-train" not in path.name and not path.name.startswith("tmp-"):
            top = path.relative_to(datadir).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    sizes["total"] = sum(sizes.values())
    return sizes


def _select(env, work, rows, dev_train, dev, trials) -> dict:
    """Train sleec defaults on the dev-train part; ``annif hyperopt`` on the dev part."""
    rows = {**rows, "sleec-dev": ("sleec", "dev", {})}
    _write_projects(work, rows)
    print("[select] train on dev-train, hyperopt on dev", file=sys.stderr, flush=True)
    _annif(env, "train", "sleec-dev", str(dev_train))
    stdout, seconds = _annif(env, "hyperopt", "sleec-dev", "--trials", str(trials), str(dev))
    block = stdout.split("---")[1]
    params = _keys(",".join(line for line in block.splitlines() if "=" in line))
    score = float(re.search(r"Got best NDCG score ([0-9.]+)", stdout).group(1))
    return {"trials": trials, "dev_NDCG": score, "params": params, "hyperopt_s": round(seconds, 1)}


def _count(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        name: version(name)
        for name in ("annif", "omikuji", "sleec", "numpy", "scipy", "scikit-learn", "numba")
    }


# ----------------------------------------------------------------------------- report
def _print_tables(report: dict) -> None:
    m = report["machine"]
    print(
        f"\nAnnif {m['versions']['annif']}, omikuji {m['versions']['omikuji']}, sleec "
        f"{m['versions']['sleec']}; {m['cpus']} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in m['load_average'])}; split seed "
        f"{report['split']['seed']}: {report['split']['train']} train / "
        f"{report['split']['test']} test documents"
    )
    if report["selection"]:
        s = report["selection"]
        print(
            f"chosen on the dev split ({s['trials']} trials, dev NDCG {s['dev_NDCG']:.4f}): "
            f"{s['params']}"
        )
    for corpus, title in [("test", "test split"), ("fulltext", "fulltext/")]:
        print(f"\n{title}, annif eval --limit 10\n")
        print(
            "| backend | settings | NDCG | P@1 | F1@5 | hits@5 / 5 | suggestions per doc | "
            "eval s | ms/doc (batches) | 1-doc latency ms | model MB |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for pid, r in report["results"].items():
            row, c = report["rows"][pid], r[corpus]
            latency = r["latency_ms"]["title" if corpus == "test" else "fulltext"]
            print(
                f"| {row['backend']} | {row['settings']} | {c['NDCG']:.3f} | "
                f"{c['Precision@1']:.3f} | {c['F1@5']:.3f} | {c['hits@5/5']:.3f} | "
                f"{c['suggestions_per_doc']:.2f} | {c['eval_s']:.1f} | "
                f"{r['batch_ms_per_doc']:.2f} | {latency:.1f} | "
                f"{r['model_bytes']['total'] / 1e6:.2f} |"
            )
    if "profile" in report:
        p = report["profile"]
        print(
            f"\nprofile of {p['calls']} one-document suggest calls (cProfile; "
            f"{p['wall_ms_per_call']:.1f} ms per call under the profiler), ms per call:"
        )
        for label, ms in p["ms_per_call"].items():
            print(f"  {label:<44} {ms:7.2f}")
    print("\nmodel files (bytes):")
    for pid, r in report["results"].items():
        print(f"  {pid}: {r['model_bytes']}  (train {r['train_s']} s)")


if __name__ == "__main__":
    main()
