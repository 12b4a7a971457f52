"""sleec: Sparse Local Embeddings for Extreme Multi-label Classification (Bhatia et al. 2015)."""

from __future__ import annotations

from .estimator import SLEEC
from .exceptions import DataFormatError, ModelFormatError

__version__ = "0.1.0"

__all__ = ["SLEEC", "DataFormatError", "ModelFormatError", "__version__"]
