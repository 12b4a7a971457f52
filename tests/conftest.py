"""Shared fixtures: a seeded RNG and the location of the real data (``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("SLEEC_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def shared_data() -> Path:
    """Directory of the real datasets; skips the test when it is not beside the repository."""
    if not (SHARED_DATA / "bibtex").is_dir():
        pytest.skip(
            f"real benchmark data not found at {SHARED_DATA} "
            "(set SLEEC_SHARED_DATA or place ../shared/data beside the repository)"
        )
    return SHARED_DATA
