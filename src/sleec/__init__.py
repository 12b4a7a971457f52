"""sleec: Sparse Local Embeddings for Extreme Multi-label Classification (Bhatia et al. 2015).

>>> from sleec import SLEEC, load_bibtex, precision_at_k
>>> X_train, Y_train, X_test, Y_test = load_bibtex()
>>> ids, scores = SLEEC.from_preset("bibtex").fit(X_train, Y_train).predict_topk(X_test, k=5)
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Public name -> the module that defines it. Imported on first use (PEP 562), so that
# ``import sleec.annif`` or ``sleec --help`` does not pay for numba and scikit-learn.
_EXPORTS = {
    "SLEEC": ".estimator",
    "DataFormatError": ".exceptions",
    "ModelFormatError": ".exceptions",
    "NoFeatureWarning": ".exceptions",
    "evaluate": ".metrics",
    "inverse_propensity": ".metrics",
    "load_bibtex": ".datasets",
    "make_xmc": ".datasets",
    "ndcg_at_k": ".metrics",
    "precision_at_k": ".metrics",
    "predict_topk_distributed": ".distributed",
    "psndcg_at_k": ".metrics",
    "psprecision_at_k": ".metrics",
    "read_xc": ".datasets",
    "read_xc_split": ".datasets",
    "write_xc": ".datasets",
}

if TYPE_CHECKING:
    from .datasets import load_bibtex, make_xmc, read_xc, read_xc_split, write_xc
    from .distributed import predict_topk_distributed
    from .estimator import SLEEC
    from .exceptions import DataFormatError, ModelFormatError, NoFeatureWarning
    from .metrics import (
        evaluate,
        inverse_propensity,
        ndcg_at_k,
        precision_at_k,
        psndcg_at_k,
        psprecision_at_k,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sleec' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "SLEEC",
    "DataFormatError",
    "ModelFormatError",
    "NoFeatureWarning",
    "__version__",
    "evaluate",
    "inverse_propensity",
    "load_bibtex",
    "make_xmc",
    "ndcg_at_k",
    "precision_at_k",
    "predict_topk_distributed",
    "psndcg_at_k",
    "psprecision_at_k",
    "read_xc",
    "read_xc_split",
    "write_xc",
]
