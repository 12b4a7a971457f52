"""Per-dataset settings from the authors' released parameter files, in our parameter names.

Name map (authors' code -> ``SLEEC``): ``num_learners`` -> ``n_learners``, ``num_clusters``
-> ``n_clusters``, ``SVP_neigh`` -> ``n_graph_neighbors``, ``out_Dim`` -> ``n_components``,
``w_thresh`` -> ``weight_threshold``, ``sp_thresh`` -> ``embedding_threshold``, ``cost`` ->
``l2_reg = 1 / (2 cost)`` (LIBLINEAR's L2-loss objective ``0.5 ||w||^2 + cost ||y - Xw||^2``
rescaled to ours), ``NNtest`` -> ``n_neighbors``, ``normalize`` -> ``normalize``.

Presets are the authors' method: the second stage (shortlist and rankers) is off. Every
preset also runs 10 SVP iterations (``svp_max_iter=10``, the library default is 3): the
authors' embedding solver runs to convergence, and 3 iterations cost the presets accuracy on
held-out splits (BENCHMARKS.md, "Choosing the defaults").
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "preset_params"]

# name: (learners, clusters, SVP_neigh, out_Dim, w_thresh, sp_thresh, cost, NNtest, normalize)
_AUTHORS_TABLE = {
    "bibtex": (1, 1, 250, 100, 0.01, 0.01, 0.2, 25, True),
    "delicious": (1, 1, 500, 100, 0.01, 0.01, 0.1, 70, True),
    "eurlex-4k": (5, 3, 100, 100, 0.01, 0.01, 1.0, 8, True),
    "mediamill": (15, 5, 300, 30, 0.01, 0.01, 1.0, 4, False),
    "wiki10-31k": (5, 5, 50, 75, 0.75, 0.5, 0.1, 11, True),
    "delicious-200k": (5, 50, 50, 50, 0.70, 0.70, 0.1, 70, True),
    "wikilshtc-325k": (10, 300, 15, 50, 0.95, 0.75, 0.1, 10, True),
    "amazon-670k": (20, 100, 25, 50, 0.80, 0.5, 0.1, 5, True),
}

_SVP_MAX_ITER = 10

PRESETS: dict[str, dict[str, Any]] = {
    name: {
        "n_learners": learners,
        "n_clusters": clusters,
        "n_graph_neighbors": svp_neigh,
        "n_components": out_dim,
        "weight_threshold": w_thresh,
        "embedding_threshold": sp_thresh,
        "l2_reg": 1.0 / (2.0 * cost),
        "n_neighbors": nn_test,
        "normalize": normalize,
        "svp_max_iter": _SVP_MAX_ITER,
        "shortlist_votes": 0,  # no second stage: the authors' method
        "shortlist_centroids": 0,
    }
    for name, (
        learners,
        clusters,
        svp_neigh,
        out_dim,
        w_thresh,
        sp_thresh,
        cost,
        nn_test,
        normalize,
    ) in _AUTHORS_TABLE.items()
}


def preset_params(name: str) -> dict[str, Any]:
    """Parameters of a named preset (case-insensitive); raises ValueError listing the names."""
    key = str(name).lower()
    if key not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(PRESETS)}.")
    return dict(PRESETS[key])
