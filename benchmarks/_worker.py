"""One benchmark run of one library on one dataset, in its own process (see compare.py).

Prints one JSON object: top-5 precision and propensity-scored precision, training seconds
(first fit in the process), prediction milliseconds per point (whole test set, batched where
the library allows, after an untimed warm-up call on a few points), model size on disk. Peak
memory is measured by the parent from this process's rusage.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

HERE = Path(__file__).resolve().parent
# Every library first predicts a few test points untimed, so that the timed call measures
# steady-state prediction, not one-time start-up (sleec: loading its compiled kernels).
WARMUP = 16
SHARED = Path(os.environ.get("SLEEC_SHARED_DATA", HERE.parent.parent / "shared" / "data"))


def load_dataset(name: str):
    """(X_train, Y_train, X_test, Y_test) for bibtex, delicious, wordnet, synthetic:N or
    TRAIN,TEST."""
    from sleec import datasets

    if name == "bibtex":
        return datasets.load_bibtex()
    if name == "delicious":
        d = SHARED / "delicious"
        return datasets.read_xc_split(
            d / "Delicious_data.txt.xz",
            d / "delicious_trSplit.txt.xz",
            d / "delicious_tstSplit.txt.xz",
            column=1,
        )
    if name == "wordnet":
        d = SHARED / "wordnet"
        return (
            *datasets.read_xc(d / "wordnet_train.txt.xz"),
            *datasets.read_xc(d / "wordnet_test.txt.xz"),
        )
    if name.startswith("synthetic:"):
        n = int(float(name.split(":", 1)[1]))
        n_labels = max(100, min(100_000, n // 10))
        X, Y = datasets.make_xmc(n + n // 5, 20_000, n_labels, random_state=0)
        return X[:n], Y[:n], X[n:], Y[n:]
    train, test = name.split(",")
    return (*datasets.read_xc(train), *datasets.read_xc(test))


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_sleec(Xtr, Ytr, Xte, k, threads, workdir, params):
    from sleec import SLEEC

    preset = params.pop("preset")
    model = SLEEC.from_preset(preset, **params) if preset else SLEEC(**params)
    model.set_params(n_jobs=threads)
    t0 = time.perf_counter()
    model.fit(Xtr, Ytr)
    train_s = time.perf_counter() - t0
    model.predict_topk(Xte[:WARMUP], k)
    t0 = time.perf_counter()
    ids, _ = model.predict_topk(Xte, k)
    predict_s = time.perf_counter() - t0
    path = workdir / "model.npz"
    model.save(path)
    return ids, train_s, predict_s, dir_size(path)


def run_omikuji(Xtr, Ytr, Xte, k, threads, workdir, params):
    import omikuji

    from sleec.datasets import write_xc

    train_file = workdir / "train.txt"
    write_xc(train_file, Xtr, Ytr)  # omikuji trains from an XC-format file (not timed)
    hp = omikuji.Model.default_hyper_param()
    t0 = time.perf_counter()
    model = omikuji.Model.train_on_data(str(train_file), hp, n_threads=threads)
    train_s = time.perf_counter() - t0
    rows = [
        list(
            zip(
                Xte.indices[Xte.indptr[i] : Xte.indptr[i + 1]].tolist(),
                Xte.data[Xte.indptr[i] : Xte.indptr[i + 1]].tolist(),
                strict=True,
            )
        )
        for i in range(Xte.shape[0])
    ]
    [model.predict(r, top_k=k) for r in rows[:WARMUP]]
    t0 = time.perf_counter()
    preds = [model.predict(r, top_k=k) for r in rows]
    predict_s = time.perf_counter() - t0
    ids = np.full((Xte.shape[0], k), -1, dtype=np.int64)
    for i, p in enumerate(preds):
        ids[i, : len(p)] = [lab for lab, _ in p]
    model.save(str(workdir / "omikuji_model"))
    return ids, train_s, predict_s, dir_size(workdir / "omikuji_model")


def run_napkinxc(Xtr, Ytr, Xte, k, threads, workdir, params):
    from napkinxc.models import PLT

    labels = [Ytr.indices[Ytr.indptr[i] : Ytr.indptr[i + 1]].tolist() for i in range(Ytr.shape[0])]
    model = PLT(str(workdir / "plt"), threads=threads)
    t0 = time.perf_counter()
    model.fit(Xtr, labels)
    train_s = time.perf_counter() - t0
    model.predict(Xte[:WARMUP], top_k=k)
    t0 = time.perf_counter()
    preds = model.predict(Xte, top_k=k)
    predict_s = time.perf_counter() - t0
    ids = np.full((Xte.shape[0], k), -1, dtype=np.int64)
    for i, p in enumerate(preds):
        ids[i, : len(p)] = p[:k]
    return ids, train_s, predict_s, dir_size(workdir / "plt")


def _pecos_compat():
    """libpecos 1.2.8 on NumPy 2 / SciPy >= 1.14: its two run-time incompatibilities."""
    import scipy.sparse._sputils as sputils

    sp.sputils = sputils
    import pecos.utils.smat_util as smat_util

    class _NumpyCopyIfNeeded:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def array(*args, copy=True, **kwargs):
            return np.array(*args, copy=None if copy is False else copy, **kwargs)

    smat_util.np = _NumpyCopyIfNeeded()


def run_pecos(Xtr, Ytr, Xte, k, threads, workdir, params):
    _pecos_compat()
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel

    Xtr = sp.csr_matrix(Xtr, dtype=np.float32)
    Ytr = sp.csr_matrix(Ytr, dtype=np.float32)
    t0 = time.perf_counter()
    label_feat = LabelEmbeddingFactory.create(Ytr, Xtr, method="pifa", threads=threads)
    chain = Indexer.gen(label_feat, threads=threads)
    model = XLinearModel.train(Xtr, Ytr, C=chain, threads=threads)
    train_s = time.perf_counter() - t0
    model.predict(sp.csr_matrix(Xte[:WARMUP], dtype=np.float32), only_topk=k, threads=threads)
    t0 = time.perf_counter()
    P = model.predict(sp.csr_matrix(Xte, dtype=np.float32), only_topk=k, threads=threads)
    predict_s = time.perf_counter() - t0
    model.save(str(workdir / "pecos_model"))
    from sleec.metrics import top_k_ids

    return top_k_ids(sp.csr_matrix(P), k), train_s, predict_s, dir_size(workdir / "pecos_model")


def run_libmultilabel(Xtr, Ytr, Xte, k, threads, workdir, params):
    from libmultilabel import linear

    t0 = time.perf_counter()
    model = linear.train_1vsrest(sp.csr_matrix(Ytr), sp.csr_matrix(Xtr), f"-m {threads} -q")
    train_s = time.perf_counter() - t0
    linear.predict_values(model, sp.csr_matrix(Xte[:WARMUP]))
    t0 = time.perf_counter()
    scores = linear.predict_values(model, sp.csr_matrix(Xte))
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    predict_s = time.perf_counter() - t0
    path = workdir / "lml.npz"
    np.savez(path, weights=np.asarray(model.weights))
    return ids, train_s, predict_s, dir_size(path)


def run_knn(Xtr, Ytr, Xte, k, threads, workdir, params, n_neighbors=10):
    """Plain cosine kNN on the (L2-normalised) features: the 10 most similar training points
    vote with their similarity; brute force in batches of test rows (sparse products)."""
    from sleec._topk import top_k_from_scores

    t0 = time.perf_counter()
    Xtr_t = sp.csr_matrix(Xtr.T)  # "training": keep the transposed index
    Ytr = sp.csr_matrix(Ytr)
    train_s = time.perf_counter() - t0

    def predict(X):
        out = []
        for a in range(0, X.shape[0], 1024):
            S = (X[a : a + 1024] @ Xtr_t).toarray()
            nn = np.argpartition(-S, n_neighbors, axis=1)[:, :n_neighbors]
            w = np.take_along_axis(S, nn, 1)
            rows = np.repeat(np.arange(S.shape[0]), n_neighbors)
            V = sp.csr_matrix((w.ravel(), (rows, nn.ravel())), shape=(S.shape[0], Xtr.shape[0]))
            out.append(top_k_from_scores(V @ Ytr, k)[0])
        return np.vstack(out)

    predict(Xte[:WARMUP])
    t0 = time.perf_counter()
    ids = predict(Xte)
    predict_s = time.perf_counter() - t0
    path = workdir / "knn.npz"
    sp.save_npz(path, Xtr_t)
    return ids, train_s, predict_s, dir_size(path)


RUNNERS = {
    "sleec": run_sleec,
    "omikuji": run_omikuji,
    "napkinxc": run_napkinxc,
    "pecos": run_pecos,
    "libmultilabel": run_libmultilabel,
    "knn": run_knn,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, choices=sorted(RUNNERS))
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--sleec-params", default="{}")
    ap.add_argument("--seed", type=int, default=0, help="sleec's random_state")
    args = ap.parse_args()
    from sleec.metrics import evaluate, inverse_propensity

    Xtr, Ytr, Xte, Yte = load_dataset(args.dataset)
    Xtr, Xte = normalize(Xtr).astype(np.float32), normalize(Xte).astype(np.float32)
    params = {"random_state": args.seed, **json.loads(args.sleec_params)}
    if "preset" not in params:  # the dataset's preset where one exists, else the defaults
        params["preset"] = args.dataset if args.dataset in ("bibtex", "delicious") else None
    with tempfile.TemporaryDirectory() as tmp:
        ids, train_s, predict_s, size = RUNNERS[args.lib](
            Xtr, Ytr, Xte, args.k, args.threads, Path(tmp), params
        )
    scores = evaluate(Yte, ids, args.k, inv_prop=inverse_propensity(Ytr))
    out = {
        "lib": args.lib,
        "dataset": args.dataset,
        "threads": args.threads,
        "seed": args.seed,
        **{name: scores[name].tolist() for name in ("P", "nDCG", "PSP", "PSnDCG")},
        "train_s": train_s,
        "predict_ms_per_point": 1000 * predict_s / Xte.shape[0],
        "model_bytes": size,
        "n_train": Xtr.shape[0],
        "n_test": Xte.shape[0],
    }
    print("\n" + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
