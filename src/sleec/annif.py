"""sleec as a backend of Annif (https://annif.org), the subject-indexing toolkit.

Install Annif beside sleec (in a clone of sleec: ``pip install ".[annif]"``), then name
this module's configuration when running Annif, and use ``backend=sleec`` in a project::

    ANNIF_CONFIG=sleec.annif.Config annif train yso-sleec-fi train.tsv.gz

``projects.cfg``::

    [yso-sleec-fi]
    name=YSO sleec project
    language=fi
    backend=sleec
    analyzer=snowball(finnish)
    vocab=yso
    limit=100
    # optional: the vectoriser, as omikuji's
    min_df=1
    ngram=1
    # optional: any SLEEC parameter (sleec.params.PARAMS), or an authors' preset
    # preset=bibtex
    # n_neighbors=25

Registration
------------
Annif 1.4 has no plugin mechanism for backends: they live in a private table,
``annif.backend._backend_fns`` (name -> a function returning the class). Annif imports the
configuration class named by ``ANNIF_CONFIG`` (Flask's ``from_object`` reads its upper-case
attributes; it never instantiates it), so importing this module is the hook: it adds
``"sleec"`` to that table and nothing of Annif is patched. :class:`Config` is Annif's
``annif.default_config.Config`` (what the ``annif`` command uses when ``ANNIF_CONFIG`` is
unset); :class:`ProductionConfig` is its ``ProductionConfig`` (projects initialised at
start-up, the REST server's default). A site configuration of its own can subclass either,
or call :func:`register` from its module.

The backend class lives in :mod:`sleec._annif_backend` and is imported when a sleec
project is first used, not at Annif's start-up (``sleec.annif.SleecBackend`` imports it
too). The ``sleec`` package imports its public names on first use, so registering the
backend loads neither numba nor scikit-learn.

Text to features: the project's analyzer, then sleec's text pipeline
---------------------------------------------------------------------
Annif's own vectorising backends (omikuji, svc) fit scikit-learn's ``TfidfVectorizer`` with
the project's analyzer as its ``tokenizer`` and store it with joblib (pickle). This
backend keeps Annif's convention where it matters to users, the analyzer
(``analyzer=snowball(finnish)``, voikko, simplemma...: language-aware tokens, configured
in ``projects.cfg`` and not frozen into the model), and sleec's text pipeline for the rest:
each text is lowercased and tokenised by the analyzer, its tokens joined by spaces, and
fed to :func:`sleec.text.make_text_pipeline`'s vectoriser (sublinear tf-idf, float32,
``min_df``) splitting on whitespace. That vectoriser has no callable, so
:func:`sleec.text.save_pipeline` stores it (vocabulary and idf weights) and the model in
one pickle-free file: loading a model never runs code from it. ``min_df`` and ``ngram``
have the names, meaning and defaults (1 and 1) of omikuji's parameters; ``sleec train
--text``'s ``min_df`` of 2 lost 2.3 points of NDCG on a dev split of the archaeology
training part (short titles need their rare words).

Parameters
----------
Every key of the project's section (and every ``--backend-param sleec.KEY=VALUE``) named
after a SLEEC parameter is converted by :func:`sleec.params.params_from_strings`; a bad
value stops Annif with a message naming the parameter and what was expected. ``preset``
names an authors' preset (:mod:`sleec.presets`) under those keys; unset keys keep the
library defaults. ``n_neighbors``, ``metric``, ``weighting``, ``shortlist_votes``,
``shortlist_centroids``, ``ranker_mix`` and ``n_jobs`` also apply to a trained model at
suggest time (no retraining); the others take effect at the next ``annif train``.
``annif train --jobs N`` sets ``n_jobs`` for the fit when the project does not. A key that
is neither Annif's nor SLEEC's is reported once as a warning.

Suggestions
-----------
Scores are SLEEC's (:meth:`sleec.SLEEC.predict_topk`): the neighbours' vote share, or with
the second stage its mix with the per-label ranker's probability. Both are in [0, 1] and
comparable across documents, so Annif's ``threshold`` and the ensemble backends use them
as they are; zero scores are not suggested. A document with no word the vocabulary knows
gets no suggestion, as with omikuji.

Files (in the project's data directory)
---------------------------------------
``sleec-model.npz``: the vectoriser and the model (sleec's model format: one ``.npz``, no
pickle, checksummed, written atomically). ``sleec-train.npz``: the vectorised training
documents (plain arrays, no pickle), which ``annif train --cached`` refits from without
reading and analysing the documents again (``min_df`` and ``ngram`` then stay those of the
cached run).

Hyperparameter optimisation
---------------------------
``annif hyperopt PROJECT VALIDATION_DOCS`` searches the prediction-time parameters of the
trained model (``n_neighbors`` from 5 to 1000 on a log scale, and ``ranker_mix`` when the
model has its second stage) by Annif's own metric (``--metric``, default NDCG): a trial
costs one prediction pass, no refit. It prints the ``projects.cfg`` lines to use.
"""

from __future__ import annotations

from typing import Any

try:
    import annif.backend
    import annif.default_config
except ImportError as exc:  # pragma: no cover - exercised without Annif installed
    raise ImportError(
        f"sleec.annif needs Annif ({exc}); install it with: pip install annif "
        "(or, in a clone of sleec, pip install '.[annif]')"
    ) from exc

__all__ = ["BACKEND_NAME", "Config", "ProductionConfig", "register"]  # and SleecBackend, lazily

BACKEND_NAME = "sleec"


def _sleec_backend() -> type:
    from ._annif_backend import SleecBackend

    return SleecBackend


def register() -> None:
    """Add the ``sleec`` backend to Annif's backend table (idempotent). Importing this
    module calls it."""
    table = getattr(annif.backend, "_backend_fns", None)
    if not isinstance(table, dict):
        raise ImportError(
            "this Annif has no backend table annif.backend._backend_fns (Annif 1.4 has "
            "one); sleec cannot register its backend"
        )
    table[BACKEND_NAME] = _sleec_backend


register()


class Config(annif.default_config.Config):
    """Annif's default configuration with the ``sleec`` backend registered
    (``ANNIF_CONFIG=sleec.annif.Config``)."""


class ProductionConfig(annif.default_config.ProductionConfig):
    """Annif's production configuration (projects initialised at start-up) with the
    ``sleec`` backend registered (``ANNIF_CONFIG=sleec.annif.ProductionConfig``)."""


def __getattr__(name: str) -> Any:
    if name == "SleecBackend":  # imported on first use only (see the module docstring)
        return _sleec_backend()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
