"""A self-contained HTML report of a model on a test set, with PNG figures.

:func:`evaluate_report` computes the numbers: P@k, nDCG@k, PSP@k and PSnDCG@k (propensities
from the model's own training labels, Jain et al. 2016), label coverage@k, accuracy by
label-frequency bucket (labels seen 0, 1, 2-5, 6-20, 21-100 and more than 100 times in
training: head to tail), the share of predictions per bucket, the distribution of the
predicted scores for hits and misses, and the clusters' sizes.
:func:`write_report` draws the figures with matplotlib (the ``report`` extra) and writes one
HTML page with the figures embedded as data URIs, so it opens without a network; the PNGs
can be written beside it too.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _labels, metrics
from ._atomic import atomic_write

__all__ = ["BUCKETS", "Report", "evaluate_report", "write_report"]

# Label-frequency buckets (training points per label), head to tail: (name, low, high).
BUCKETS = (
    ("unseen (0)", 0, 0),
    ("1", 1, 1),
    ("2-5", 2, 5),
    ("6-20", 6, 20),
    ("21-100", 21, 100),
    (">100", 101, None),
)


@dataclass
class Report:
    """The numbers of a report (see :func:`evaluate_report`); percentages as fractions."""

    k: int
    n_test: int
    n_train: int
    n_labels: int
    A: float
    B: float
    metrics: dict[str, np.ndarray]
    buckets: list[dict[str, Any]]
    hit_scores: np.ndarray
    miss_scores: np.ndarray
    cluster_sizes: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)


def evaluate_report(
    model: Any,
    X: Any,
    y: Any,
    *,
    k: int = 5,
    A: float = metrics.PROPENSITY_A,
    B: float = metrics.PROPENSITY_B,
    callback: Any = None,
) -> Report:
    """The report's numbers for a fitted SLEEC on test points ``X`` with labels ``y`` (in any
    form ``fit`` takes); ``callback(done, n)`` follows the prediction's progress."""
    Y = _labels.to_matrix(y, model.state_.classes, model.n_labels_, "Y")
    ids, scores = model.predict_topk(X, k, callback=callback)
    k = ids.shape[1]
    train = model.train_labels_
    inv_prop = metrics.inverse_propensity(train, A, B, n_labels=Y.shape[1])
    results = metrics.evaluate(Y, ids, k, inv_prop)
    # Y's columns after the model's are labels it never saw: 0 training points, "unseen".
    counts = np.bincount(train.indices, minlength=Y.shape[1])
    bucket_of = np.zeros(Y.shape[1], dtype=np.int64)
    for b, (_, low, high) in enumerate(BUCKETS):
        bucket_of[(counts >= low) & (counts <= (np.inf if high is None else high))] = b
    Y = sp.csr_matrix(Y)
    Y.sort_indices()
    pred_rows, pred_cols = np.nonzero(ids >= 0)
    pred_labels = ids[pred_rows, pred_cols].astype(np.int64)
    # (row, label) pairs as row * L + label: increasing in CSR order, found by searchsorted
    keys = np.repeat(np.arange(Y.shape[0], dtype=np.int64), np.diff(Y.indptr)) * Y.shape[1]
    keys += Y.indices
    query = pred_rows.astype(np.int64) * Y.shape[1] + pred_labels
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    hit = (keys[pos] == query) if keys.size else np.zeros(query.size, dtype=bool)
    buckets = []
    for b, (name, _, _) in enumerate(BUCKETS):
        in_true = bucket_of[Y.indices] == b
        in_pred = bucket_of[pred_labels] == b
        buckets.append(
            {
                "bucket": name,
                "labels": int(np.count_nonzero(bucket_of == b)),
                "true_share": float(in_true.mean()) if Y.nnz else 0.0,
                "recall": float((hit & in_pred).sum() / max(in_true.sum(), 1)),
                "prediction_share": float(in_pred.mean()) if pred_labels.size else 0.0,
                "precision": float((hit & in_pred).sum() / max(in_pred.sum(), 1)),
            }
        )
    return Report(
        k=k,
        n_test=int(Y.shape[0]),
        n_train=int(train.shape[0]),
        n_labels=int(model.n_labels_),
        A=float(A),
        B=float(B),
        metrics=results,
        buckets=buckets,
        hit_scores=scores[pred_rows, pred_cols][hit],
        miss_scores=scores[pred_rows, pred_cols][~hit],
        cluster_sizes=[np.array([loc.rows.size for loc in lr.locals]) for lr in model.learners_],
        params=model.get_params(),
    )


def write_report(
    path: str | os.PathLike,
    report: Report,
    *,
    title: str = "sleec report",
    figures_dir: str | os.PathLike | None = None,
) -> list[str]:
    """Write the HTML page (figures embedded) and, with ``figures_dir``, the PNG files.
    Returns the figure names. Needs matplotlib (``pip install matplotlib``, or the
    ``report`` extra: ``pip install ".[report]"`` in a clone of sleec)."""
    figures = _draw(report)
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        for name, png in figures.items():
            with atomic_write(Path(figures_dir) / f"{name}.png", "wb") as fh:
                fh.write(png)
    with atomic_write(path, "w") as fh:
        fh.write(_html(report, figures, title))
    return list(figures)


# ------------------------------------------------------------------------------- figures
def _draw(report: Report) -> dict[str, bytes]:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "the report needs matplotlib: pip install matplotlib (or, in a clone of sleec, "
            'pip install ".[report]")'
        ) from exc
    out = {}
    js = np.arange(1, report.k + 1)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name in ("P", "nDCG", "PSP", "PSnDCG"):
        if name in report.metrics:
            ax.plot(js, 100 * report.metrics[name], marker="o", label=f"{name}@k")
    ax.set(xlabel="k", ylabel="%", title="Ranking metrics at k", xticks=js)
    ax.grid(alpha=0.3)
    ax.legend()
    out["metrics"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [b["bucket"] for b in report.buckets]
    x = np.arange(len(names))
    ax.bar(
        x - 0.3, [100 * b["true_share"] for b in report.buckets], 0.3, label="share of true labels"
    )
    ax.bar(
        x,
        [100 * b["prediction_share"] for b in report.buckets],
        0.3,
        label=f"share of top-{report.k} predictions",
    )
    ax.bar(
        x + 0.3,
        [100 * b["recall"] for b in report.buckets],
        0.3,
        label=f"recall@{report.k} within the bucket",
    )
    ax.set(
        xticks=x,
        xticklabels=names,
        xlabel="training points per label (head <- -> tail)",
        ylabel="%",
        title="Head to tail",
    )
    ax.legend(fontsize=8)
    out["buckets"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.linspace(0, 1, 26)
    ax.hist(report.hit_scores, bins=bins, alpha=0.7, label="correct predictions")
    ax.hist(report.miss_scores, bins=bins, alpha=0.7, label="wrong predictions")
    ax.set(
        xlabel="score (neighbour vote share)",
        ylabel="predictions",
        title=f"Scores of the top-{report.k} predictions",
    )
    ax.legend()
    out["scores"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, sizes in enumerate(report.cluster_sizes):
        ax.plot(np.sort(sizes)[::-1], marker=".", label=f"learner {i}")
    ax.set(xlabel="cluster (largest first)", ylabel="training points", title="Cluster sizes")
    ax.legend(fontsize=8)
    out["clusters"] = _png(fig, plt)
    return out


def _png(fig: Any, plt: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- HTML
def _html(report: Report, figures: dict[str, bytes], title: str) -> str:
    ks = sorted({j for j in (1, 3, 5) if j <= report.k} | {report.k})
    head = "".join(f"<th>@{j}</th>" for j in ks)
    metric_rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{100 * values[j - 1]:.2f}</td>" for j in ks)
        + "</tr>"
        for name, values in report.metrics.items()
    )
    bucket_rows = "".join(
        "<tr>"
        + f"<td>{html.escape(b['bucket'])}</td><td>{b['labels']}</td>"
        + "".join(
            f"<td>{100 * b[key]:.2f}</td>"
            for key in ("true_share", "prediction_share", "recall", "precision")
        )
        + "</tr>"
        for b in report.buckets
    )
    images = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{name}</figcaption></figure>'
        for name, png in figures.items()
    )
    sizes = [int(s) for sizes in report.cluster_sizes for s in sizes]
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(report.params.items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; }}
img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{report.n_test} test points; model trained on {report.n_train} points with
{report.n_labels} labels, {len(report.cluster_sizes)} learner(s), clusters of
{min(sizes)} to {max(sizes)} points.</p>
<h2>Ranking metrics (%)</h2>
<table><tr><th>metric</th>{head}</tr>{metric_rows}</table>
<p>PSP and PSnDCG use inverse propensities from the model's training labels,
1/p = 1 + C (N_l + B)^-A with A = {report.A:g}, B = {report.B:g} (Jain et al., 2016);
R is recall and coverage the share of the test set's labels hit at least once.</p>
<h2>Head to tail (%)</h2>
<table><tr><th>training points per label</th><th>labels</th><th>share of true labels</th>
<th>share of predictions</th><th>recall@{report.k}</th><th>precision</th></tr>
{bucket_rows}</table>
<h2>Figures</h2>
{images}
<h2>Parameters</h2>
<p><code>{html.escape(params)}</code></p>
<script>
window.addEventListener("load", function () {{
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {{ if (imgs[i].naturalWidth > 0) ok++; }}
  document.body.setAttribute("data-figures-loaded", ok + "/" + imgs.length);
}});
</script>
</body></html>
"""
