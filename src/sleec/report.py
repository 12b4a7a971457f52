"""A self-contained HTML report of a model on a test set, with PNG figures.

:func:`evaluate_report` computes the numbers: P@k, nDCG@k, PSP@k and PSnDCG@k (propensities
from the model's own training labels, Jain et al. 2016), label coverage@k, accuracy by
label-frequency bucket (labels seen 0, 1, 2-5, 6-20, 21-100 and more than 100 times in
training: head to tail), the share of predictions per bucket, the distribution of the
predicted scores for hits and misses, the clusters' sizes, and a per-label table (test
support, training points, precision and recall at k) with the most frequent labels and the
worst head and tail labels, by name when the model has names.
:func:`write_report` draws the figures with matplotlib (the ``report`` extra) and writes one
HTML page with the figures embedded as data URIs, so it opens without a network; the PNGs
can be written beside it too. Given a second model's report (``compare``), the page puts
the two side by side.
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

__all__ = ["BUCKETS", "CAPTIONS", "Report", "evaluate_report", "label_tables", "write_report"]

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
    labels: list[dict[str, Any]] = field(default_factory=list)  # per label, see _label_rows
    info: dict[str, Any] = field(default_factory=dict)  # fit time, version, model size
    name: str = "model"


def evaluate_report(
    model: Any,
    X: Any,
    y: Any,
    *,
    k: int = 5,
    A: float = metrics.PROPENSITY_A,
    B: float = metrics.PROPENSITY_B,
    callback: Any = None,
    name: str = "model",
    model_bytes: int | None = None,
) -> Report:
    """The report's numbers for a fitted SLEEC on test points ``X`` with labels ``y`` (in any
    form ``fit`` takes); ``callback(done, n)`` follows the prediction's progress; ``name``
    and ``model_bytes`` (its file's size) are shown on the page."""
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
    for b, (bucket, _, _) in enumerate(BUCKETS):
        in_true = bucket_of[Y.indices] == b
        in_pred = bucket_of[pred_labels] == b
        buckets.append(
            {
                "bucket": bucket,
                "labels": int(np.count_nonzero(bucket_of == b)),
                "true_share": float(in_true.mean()) if Y.nnz else 0.0,
                "recall": float((hit & in_pred).sum() / max(in_true.sum(), 1)),
                "prediction_share": float(in_pred.mean()) if pred_labels.size else 0.0,
                "precision": float((hit & in_pred).sum() / max(in_pred.sum(), 1)),
            }
        )
    names = model.label_names_
    info = {**model.state_.info, **({} if model_bytes is None else {"model_bytes": model_bytes})}
    return Report(
        labels=_label_rows(Y, counts, pred_labels, hit, names),
        info=info,
        name=name,
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


def _label_rows(
    Y: sp.csr_matrix,
    train_counts: np.ndarray,
    pred_labels: np.ndarray,
    hit: np.ndarray,
    names: np.ndarray | None,
) -> list[dict[str, Any]]:
    """One dict per label that the test set carries or the model predicts: ``label`` (id),
    ``name``, ``support`` (test points carrying it), ``train`` (training points), ``predicted``
    (top-k predictions of it), ``hits``, ``precision`` and ``recall``."""
    width = Y.shape[1]
    support = np.bincount(Y.indices, minlength=width)
    predicted = np.bincount(pred_labels, minlength=width)
    hits = np.bincount(pred_labels[hit], minlength=width)
    rows = []
    for j in np.flatnonzero((support > 0) | (predicted > 0)).tolist():
        rows.append(
            {
                "label": j,
                "name": str(names[j]) if names is not None and j < names.size else str(j),
                "support": int(support[j]),
                "train": int(train_counts[j]),
                "predicted": int(predicted[j]),
                "hits": int(hits[j]),
                "precision": float(hits[j] / predicted[j]) if predicted[j] else 0.0,
                "recall": float(hits[j] / support[j]) if support[j] else 0.0,
            }
        )
    return rows


def label_tables(report: Report, n: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The per-label tables of the page, ``n`` rows each: the labels most frequent in the
    test set; the worst head labels (the most frequent tenth in training, lowest recall,
    then most support); the worst tail labels (at most 5 training points, most support
    among those with the lowest recall)."""
    rows = [r for r in report.labels if r["support"] > 0]
    by_train = sorted(r["train"] for r in rows)
    head_from = by_train[int(0.9 * len(by_train))] if by_train else 0
    head = [r for r in rows if r["train"] >= max(head_from, 6)]
    tail = [r for r in rows if r["train"] <= 5]
    return {
        "most frequent in the test set": sorted(rows, key=lambda r: (-r["support"], r["label"]))[
            :n
        ],
        "worst head labels": sorted(head, key=lambda r: (r["recall"], -r["support"]))[:n],
        "worst tail labels (<= 5 training points)": sorted(
            tail, key=lambda r: (r["recall"], -r["support"])
        )[:n],
    }


def write_report(
    path: str | os.PathLike,
    report: Report,
    *,
    title: str = "sleec report",
    figures_dir: str | os.PathLike | None = None,
    compare: Report | None = None,
) -> list[str]:
    """Write the HTML page (figures embedded) and, with ``figures_dir``, the PNG files.
    Returns the figure names. Needs matplotlib (``pip install matplotlib``, or the
    ``report`` extra: ``pip install ".[report]"`` in a clone of sleec)."""
    figures = _draw(report, compare)
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        for name, png in figures.items():
            with atomic_write(Path(figures_dir) / f"{name}.png", "wb") as fh:
                fh.write(png)
    with atomic_write(path, "w") as fh:
        fh.write(_html(report, figures, title, compare))
    return list(figures)


# ------------------------------------------------------------------------------- figures
CAPTIONS = {
    "metrics": "Ranking metrics at each cut-off k, in percent: precision P@k, nDCG@k and "
    "their propensity-scored versions PSP@k and PSnDCG@k, which give rare labels more weight.",
    "buckets": "Head to tail: labels grouped by how many training points carry them. For each "
    "group, its share of the test set's true labels, its share of the top-k predictions and "
    "the recall of its true labels: a model that favours frequent labels predicts the "
    "right-hand groups more often than they occur.",
    "scores": "Scores of the top-k predictions (the share of neighbour votes, mixed with the "
    "ranker probability of the label when the model has the second stage; in [0, 1]) for "
    "correct and wrong predictions: where they separate, a score threshold (predict's "
    "threshold=) keeps precision up.",
    "clusters": "Histogram of the training points per cluster, over every learner: each "
    "cluster is fitted on its own (graph, SVP, regressor), so its size sets the task's cost.",
}


def _draw(report: Report, compare: Report | None = None) -> dict[str, bytes]:
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
    reports = [report] if compare is None else [report, compare]

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r, style in zip(reports, ("-", "--"), strict=False):
        js = np.arange(1, r.k + 1)
        for name in ("P", "nDCG", "PSP", "PSnDCG"):
            if name in r.metrics:
                label = f"{name}@k" if compare is None else f"{name}@k {r.name}"
                ax.plot(js, 100 * r.metrics[name], style, marker="o", label=label)
    ax.set(xlabel="k", ylabel="%", title="Ranking metrics at k", xticks=np.arange(1, report.k + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if compare is not None else 9)
    out["metrics"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [b["bucket"] for b in report.buckets]
    x = np.arange(len(names))
    if compare is None:
        bars = [
            ([100 * b["true_share"] for b in report.buckets], "share of true labels"),
            ([100 * b["prediction_share"] for b in report.buckets], "share of predictions"),
            ([100 * b["recall"] for b in report.buckets], f"recall@{report.k} in the group"),
        ]
    else:
        bars = [([100 * b["true_share"] for b in report.buckets], "share of true labels")] + [
            ([100 * b["recall"] for b in r.buckets], f"recall@{r.k} {r.name}") for r in reports
        ]
    for i, (values, label) in enumerate(bars):
        ax.bar(x + 0.3 * (i - 1), values, 0.3, label=label)
    ax.set(
        xticks=x,
        xticklabels=names,
        xlabel="training points per label (tail <- -> head)",
        ylabel="%",
        title="Head to tail",
    )
    ax.legend(fontsize=8)
    out["buckets"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.linspace(0, 1, 26).tolist()
    ax.hist(report.hit_scores, bins=bins, alpha=0.7, label="correct predictions")
    ax.hist(report.miss_scores, bins=bins, alpha=0.7, label="wrong predictions")
    ax.set(
        xlabel="score (neighbour vote share)",
        ylabel="predictions",
        title=f"Scores of the top-{report.k} predictions ({report.name})",
    )
    ax.legend()
    out["scores"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in reports:
        sizes = np.concatenate([np.asarray(c) for c in r.cluster_sizes])
        ax.hist(sizes, bins=min(30, max(5, sizes.size)), alpha=0.7, label=r.name)
    ax.set(xlabel="training points in the cluster", ylabel="clusters", title="Cluster sizes")
    ax.ticklabel_format(useOffset=False, style="plain", axis="x")
    if compare is not None:
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
def _label_section(caption: str, rows: list[dict[str, Any]], k: int) -> str:
    """One per-label table under its heading, or a line saying the group is empty."""
    e = html.escape
    if not rows:
        return f"<h3>{e(caption)}</h3><p>No label of the test set is in this group.</p>"
    body = "".join(
        f"<tr><td>{e(row['name'])}</td><td>{row['support']}</td><td>{row['train']}</td>"
        f"<td>{row['predicted']}</td><td>{100 * row['precision']:.1f}</td>"
        f"<td>{100 * row['recall']:.1f}</td></tr>"
        for row in rows
    )
    return (
        f"<h3>{e(caption)}</h3><table><tr><th>label</th><th>test points</th>"
        f"<th>training points</th><th>predicted</th><th>precision</th>"
        f"<th>recall@{k}</th></tr>{body}</table>"
    )


def _html(report: Report, figures: dict[str, bytes], title: str, compare: Report | None) -> str:
    reports = [report] if compare is None else [report, compare]
    e = html.escape
    metric_table = _metric_table(reports)
    bucket_table = _bucket_table(reports, compare)
    label_sections = "".join(
        _label_section(caption, rows, report.k) for caption, rows in label_tables(report).items()
    )
    images = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{e(CAPTIONS.get(name, name))}'
        "</figcaption></figure>"
        for name, png in figures.items()
    )
    models = "".join(f"<li>{_describe(r)}</li>" for r in reports)
    params = "".join(
        f"<p><b>{e(r.name)}</b>: <code>"
        + e(", ".join(f"{k}={v!r}" for k, v in sorted(r.params.items())))
        + "</code></p>"
        for r in reports
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 64em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 30em; vertical-align: top; }}
figcaption {{ font-size: 0.85em; color: #444; }}
img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{e(title)}</h1>
<p>{report.n_test} test points.</p>
<ul>{models}</ul>
<h2>Ranking metrics (%)</h2>
{metric_table}
<p>PSP and PSnDCG use inverse propensities from the model's training labels,
1/p = 1 + C (N_l + B)^-A with A = {report.A:g}, B = {report.B:g} (Jain et al., 2016);
R is recall and coverage the share of the test set's labels hit at least once. True labels
the model never saw count as misses.</p>
<h2>Head to tail (%)</h2>
<p>Labels grouped by the number of training points that carry them; "unseen (0)" holds the
test set's labels that no training point carries.</p>
{bucket_table}
<h2>Labels ({e(report.name)})</h2>
<p>Per label: the test points carrying it, the training points carrying it, how often the
model predicts it in the top {report.k}, and the precision and recall of those predictions
(%).</p>
{label_sections}
<h2>Figures</h2>
{images}
<h2>Parameters</h2>
{params}
<script>
window.addEventListener("load", function () {{
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {{ if (imgs[i].naturalWidth > 0) ok++; }}
  document.body.setAttribute("data-figures-loaded", ok + "/" + imgs.length);
}});
</script>
</body></html>
"""


def _metric_table(reports: list[Report]) -> str:
    """The metrics @1, @3, @5 and @k of each report, side by side."""
    e = html.escape
    ks = sorted({j for j in (1, 3, 5) if j <= reports[0].k} | {reports[0].k})
    head = "".join(f"<th>@{j}</th>" for r in reports for j in ks)
    groups = "".join(f'<th colspan="{len(ks)}">{e(r.name)}</th>' for r in reports)
    rows = "".join(
        f"<tr><td>{e(name)}</td>"
        + "".join(
            f"<td>{100 * r.metrics[name][j - 1]:.2f}</td>" if name in r.metrics else "<td></td>"
            for r in reports
            for j in ks
        )
        + "</tr>"
        for name in reports[0].metrics
    )
    return f"<table><tr><th></th>{groups}</tr><tr><th>metric</th>{head}</tr>{rows}</table>"


def _bucket_table(reports: list[Report], compare: Report | None) -> str:
    """The head-to-tail buckets of each report, side by side."""
    keys = ("true_share", "prediction_share", "recall", "precision")
    rows = "".join(
        "<tr>"
        + f"<td>{html.escape(b['bucket'])}</td><td>{b['labels']}</td>"
        + "".join(f"<td>{100 * r.buckets[i][key]:.2f}</td>" for r in reports for key in keys)
        + "</tr>"
        for i, b in enumerate(reports[0].buckets)
    )
    head = "".join(
        f"<th>share of true labels{_who(r, compare)}</th><th>share of predictions"
        f"{_who(r, compare)}</th><th>recall@{r.k}{_who(r, compare)}</th>"
        f"<th>precision{_who(r, compare)}</th>"
        for r in reports
    )
    return f"<table><tr><th>training points per label</th><th>labels</th>{head}</tr>{rows}</table>"


def _who(r: Report, compare: Report | None) -> str:
    return "" if compare is None else f" ({html.escape(r.name)})"


def _describe(r: Report) -> str:
    """One line about a model: training set, labels, learners, clusters, fit, size."""
    sizes = [int(s) for sizes in r.cluster_sizes for s in sizes]
    parts = [
        f"<b>{html.escape(r.name)}</b>: trained on {r.n_train} points with {r.n_labels} "
        f"labels, {len(r.cluster_sizes)} learner(s), clusters of {min(sizes)} to "
        f"{max(sizes)} points"
    ]
    if "fit_seconds" in r.info:
        parts.append(f"training took {r.info['fit_seconds']:.1f} s")
    if "model_bytes" in r.info:
        parts.append(f"model file {r.info['model_bytes'] / 2**20:.1f} MB")
    if "sleec_version" in r.info:
        parts.append(f"sleec {html.escape(str(r.info['sleec_version']))}")
    return "; ".join(parts) + "."
