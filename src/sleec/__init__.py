"""sleec: Sparse Local Embeddings for Extreme Multi-label Classification (Bhatia et al. 2015).

>>> from sleec import SLEEC, load_bibtex, precision_at_k
>>> X_train, Y_train, X_test, Y_test = load_bibtex()
>>> ids, scores = SLEEC.from_preset("bibtex").fit(X_train, Y_train).predict_topk(X_test, k=5)
"""

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("sleec")  # the one place it is written: pyproject.toml
except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
    __version__ = "0+unknown"
del PackageNotFoundError, version

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
