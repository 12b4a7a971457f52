"""The hook that lets ``fit`` run on a Dask cluster: training data sent to it once.

``SLEEC.fit`` runs its (learner, cluster) tasks through joblib, so ``with
joblib.parallel_config(backend="dask"): model.fit(X, Y)`` trains on the workers of the
connected :class:`distributed.Client`. :func:`send_if_dask` (called by ``fit``) sends the
training data to the cluster once, so that tasks refer to it instead of carrying it, in a
form the scheduler can restore when a worker dies. Nothing here imports ``distributed``
unless joblib's Dask backend is active.
"""

from __future__ import annotations

import warnings
from typing import Any
from uuid import uuid4

from joblib.parallel import get_active_backend

__all__ = ["active_dask_client", "send_if_dask", "submit_value"]


def send_if_dask(*arrays: Any) -> tuple:
    """The arguments as futures on the cluster when joblib's Dask backend will run the next
    ``Parallel`` call; else the arguments unchanged.

    Each array is sent to the scheduler once, as the argument of a small task that returns
    it; the first worker that needs it runs that task, the others copy the result from it.
    Tasks that take the futures carry only their keys (under 1 kB). The scheduler keeps each
    array (1x its size) until the futures are released: that is what lets it recompute the
    array after every worker holding it has died. ``client.scatter`` cannot (scattered data
    has no recipe): joblib's own scatter keeps one copy, and the Active Memory Manager trims
    a broadcast down to the workers that still need it within ~2 s, so a killed worker loses
    data and fails the tasks that need it. The caller keeps the futures until its tasks end.
    """
    backend, client = active_dask_client()
    # With a one-thread cluster joblib runs the tasks in this process: futures would reach
    # the task function itself.
    if client is None or not arrays or backend.effective_n_jobs(-1) <= 1:
        return arrays
    return tuple(submit_value(client, a, "sleec-data") for a in arrays)


def submit_value(client: Any, value: Any, prefix: str) -> Any:
    """A future of ``value`` on the cluster of ``client``: a task that returns it, so that the
    scheduler can recompute it if the workers holding it die."""
    with warnings.catch_warnings():  # the graph is large on purpose: it carries the data
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return client.submit(_identity, value, key=f"{prefix}-{uuid4().hex}")


def _identity(value: Any) -> Any:
    return value


def active_dask_client() -> tuple[Any, Any]:
    """``(backend, client)`` of joblib's active Dask backend, or ``(backend, None)`` when the
    active backend is not Dask's (recognised by its ``distributed.Client``)."""
    backend, _ = get_active_backend()
    client = getattr(backend, "client", None)
    if client is None:
        return backend, None
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a client attribute without distributed
        return backend, None
    return backend, client if isinstance(client, Client) else None
