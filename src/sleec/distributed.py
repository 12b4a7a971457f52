"""Running sleec on a Dask cluster: connecting, and prediction in chunks.

Training needs no API of its own: ``SLEEC.fit`` runs its (learner, cluster) tasks through
joblib, so ``with joblib.parallel_config(backend="dask"): model.fit(X, Y)`` trains on the
workers of the connected :class:`distributed.Client` (the data goes to the cluster once, see
:mod:`sleec._dask`).

Prediction: :func:`predict_topk_distributed` predicts a matrix, a sequence of row chunks, a
``dask.bag.Bag`` of chunks or a ``dask.array.Array`` on the workers and returns the top-k
labels in the input's row order, as :meth:`SLEEC.predict_topk` gives them.

Needs Dask's ``distributed`` (``pip install distributed``, or the ``dask`` extra: ``pip install
".[dask]"`` in a clone of sleec).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from . import _validation as v
from ._dask import submit_value
from .estimator import PREDICT_BATCH, SLEEC

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client, Future

__all__ = ["connect", "predict_topk_distributed"]

_CONNECT_TIMEOUT = 10.0  # seconds


def _import_distributed():
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "running sleec on a Dask cluster needs Dask's distributed: pip install distributed "
            '(or, in a clone of sleec, pip install ".[dask]")'
        ) from exc
    return distributed


# ------------------------------------------------------------------------------ connecting


def connect(address: str, *, timeout: float | None = None) -> Client:
    """A :class:`distributed.Client` of the scheduler at ``address`` (e.g. tcp://host:8786).

    Raises ConnectionError naming the address when no scheduler answers within ``timeout``
    seconds (default 10), ValueError for an address Dask cannot parse.
    """
    distributed = _import_distributed()
    timeout = _CONNECT_TIMEOUT if timeout is None else timeout
    try:
        return distributed.Client(address, timeout=timeout)
    except OSError as exc:  # TimeoutError and refused connections
        raise ConnectionError(
            f"cannot connect to a Dask scheduler at {address!r} within "
            f"{timeout:g} s ({exc}); is 'dask scheduler' running there?"
        ) from None
    except ValueError as exc:
        raise ValueError(
            f"bad Dask scheduler address {address!r}: {exc}; expected e.g. tcp://host:8786"
        ) from None


def _default_client(client: Client | None) -> Client:
    """``client``, else the current default client, else a ValueError saying how to get one."""
    if client is not None:
        return client
    distributed = _import_distributed()
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "no Dask client: pass client=distributed.Client(address), or create "
            "one first (it becomes the default)"
        ) from None


# ------------------------------------------------------------------------------ prediction


def predict_topk_distributed(
    model: SLEEC,
    data: Any,
    k: int = 5,
    *,
    client: Client | None = None,
    chunk_size: int = PREDICT_BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` labels of every row of ``data``, predicted on the workers of a Dask cluster.

    Parameters
    ----------
    model : fitted SLEEC. It is sent to the cluster once and shared by all tasks.
    data : the points, (n, n_features_in_), in one of these forms:

        - a SciPy sparse matrix or a 2-D numpy array: split into ``chunk_size`` rows per task;
        - a sequence (list, tuple) of such matrices: one task per chunk;
        - a ``dask.bag.Bag`` whose elements are such matrices: one task per partition;
        - a ``dask.array.Array`` (scipy.sparse or numpy blocks), with one block along the
          columns: one task per row block.

        Chunks held here are sent a few at a time (at most twice as many as the cluster has
        threads), so the scheduler never holds the whole test set; collections are computed
        on the workers.
    k : labels per point.
    client : distributed.Client; default: the current default client.
    chunk_size : rows per task when ``data`` is one matrix. The default, one prediction
        batch of :meth:`SLEEC.predict_topk`, gives every batch the same rows as a local
        ``predict_topk`` (bitwise equal results even with a BLAS whose rounding depends on
        the block shape).

    Returns
    -------
    ids (n, k) int32 and scores (n, k) float32, rows in the order of ``data``: what
    ``model.predict_topk`` gives for all the rows at once.
    """
    if not isinstance(model, SLEEC):
        raise TypeError(f"model must be a fitted SLEEC; got {type(model).__name__}.")
    check_is_fitted(model, "learners_")
    k = model.effective_k(k)  # every chunk, even an empty one, returns k columns
    chunk_size = v.check_int(chunk_size, "chunk_size", low=1)
    client = _default_client(client)
    n_features = int(model.n_features_in_)
    kind = _dask_kind(data)  # inputs are checked before the model is sent
    if kind is None:
        chunks = _in_memory_chunks(model, data, chunk_size)
    else:
        blocks, task = _collection_blocks(data, kind, n_features)
    model_future = submit_value(client, model, "sleec-model")
    if kind is None:
        parts = _predict_chunks(client, model_future, chunks, k)
    else:
        parts = _predict_collection(client, model_future, blocks, task, k, n_features)
    if not parts:
        return np.empty((0, k), dtype=np.int32), np.empty((0, k), dtype=np.float32)
    return (
        np.concatenate([ids for ids, _ in parts]),
        np.concatenate([scores for _, scores in parts]),
    )


def _in_memory_chunks(model: SLEEC, data: Any, chunk_size: int) -> list:
    """Row chunks of one matrix (validated as a whole), or the checked chunks of a sequence."""
    n_features = int(model.n_features_in_)
    if sp.issparse(data) or isinstance(data, np.ndarray):
        X = v.check_features(data, n_features)
        return [X[a : a + chunk_size] for a in range(0, X.shape[0], chunk_size)]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return [_check_chunk(chunk, n_features, f"data[{i}]") for i, chunk in enumerate(data)]
    raise TypeError(
        f"data is a {type(data).__name__}; expected a scipy.sparse matrix, a 2-D "
        "numpy array, a sequence of them, a dask.bag.Bag of them or a "
        "dask.array.Array."
    )


def _check_chunk(chunk: Any, n_features: int, where: str) -> Any:
    """``chunk`` if it is a sparse matrix or 2-D array with ``n_features`` columns."""
    if not (sp.issparse(chunk) or isinstance(chunk, np.ndarray)):
        raise TypeError(
            f"{where} is a {type(chunk).__name__}; expected a scipy.sparse matrix "
            f"or a 2-D numpy array of shape (n, {n_features})."
        )
    if chunk.ndim != 2 or chunk.shape[1] != n_features:
        raise ValueError(
            f"{where} has shape {chunk.shape}; expected (n, {n_features}): the "
            f"model was trained on {n_features} features."
        )
    return chunk


def _predict_chunks(
    client: Client, model_future: Future, chunks: list, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, scores) of each chunk, in order; at most 2 x (cluster threads) chunks in flight."""
    distributed = _import_distributed()
    window = max(2, 2 * sum(client.nthreads().values()))
    results: list = [None] * len(chunks)
    position: dict[Any, int] = {}
    pending = distributed.as_completed()

    def submit(i: int) -> None:
        future = client.submit(
            _predict_chunk, model_future, chunks[i], k, key=f"sleec-predict-{i}-{uuid4().hex}"
        )
        position[future.key] = i
        pending.add(future)

    for i in range(min(window, len(chunks))):
        submit(i)
    queued = min(window, len(chunks))
    for future in pending:
        results[position.pop(future.key)] = future.result()
        if queued < len(chunks):
            submit(queued)
            queued += 1
    return results


def _collection_blocks(data: Any, kind: str, n_features: int) -> tuple[list, Callable]:
    """The delayed row blocks of a dask Array (checked) or partitions of a Bag, and the task
    function that predicts one."""
    if kind == "bag":
        return list(data.to_delayed()), _predict_partition
    if data.ndim != 2:
        raise ValueError(f"data is a {data.ndim}-D dask array; expected 2-D (n, {n_features}).")
    if not np.isnan(data.shape[1]) and data.shape[1] != n_features:
        raise ValueError(
            f"data has {data.shape[1]} columns; expected {n_features}: the model "
            f"was trained on {n_features} features."
        )
    if data.numblocks[1] != 1:
        raise ValueError(
            f"data has {data.numblocks[1]} blocks along the columns; expected 1 "
            "(rechunk it with data.rechunk({1: -1}))."
        )
    return list(data.to_delayed().ravel()), _predict_block


def _predict_collection(
    client: Client, model_future: Future, blocks: list, task: Callable, k: int, n_features: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, scores) of each delayed block, in order, computed on the cluster."""
    import dask

    tasks = [
        dask.delayed(task, pure=False)(model_future, block, k, n_features, i)
        for i, block in enumerate(blocks)
    ]
    return client.gather(client.compute(tasks))


def _dask_kind(data: Any) -> str | None:
    """ "bag", "array", or None for data that is not a Dask collection."""
    try:
        import dask
    except ImportError:  # without dask there can be no Dask collection
        return None
    if not dask.is_dask_collection(data):
        return None
    import dask.array
    import dask.bag

    if isinstance(data, dask.bag.Bag):
        return "bag"
    if isinstance(data, dask.array.Array):
        return "array"
    raise TypeError(
        f"data is a {type(data).__name__}; of the Dask collections, expected a "
        "dask.bag.Bag of sparse chunks or a dask.array.Array."
    )


# Task functions (run on the workers) --------------------------------------------------------


def _predict_chunk(model: SLEEC, chunk: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    return model.predict_topk(chunk, k)


def _predict_block(
    model: SLEEC, block: Any, k: int, n_features: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    return model.predict_topk(_check_chunk(block, n_features, f"block {index} of data"), k)


def _predict_partition(
    model: SLEEC, partition: Any, k: int, n_features: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions of a Bag partition's chunks, concatenated in order."""
    chunks = [
        _check_chunk(c, n_features, f"element {j} of partition {index} of data")
        for j, c in enumerate(partition)
    ]
    parts = [model.predict_topk(c, k) for c in chunks]
    if not parts:
        return np.empty((0, k), dtype=np.int32), np.empty((0, k), dtype=np.float32)
    return np.concatenate([i for i, _ in parts]), np.concatenate([s for _, s in parts])
