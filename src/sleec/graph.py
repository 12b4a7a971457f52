"""Step 2 of SLEEC: the label k-nearest-neighbour graph Omega of one cluster (paper Sec. 3).

``(i, j)`` is in Omega iff ``j`` is among the ``n_neighbors`` points most similar to ``i`` by
their label vectors. SVP then fits only these entries of the label Gram matrix:

.. math:: G = P_\\Omega(S), \\quad S_{ij} = \\langle y_i, y_j \\rangle
          \\ \\text{(paper) or}\\ \\cos(y_i, y_j)\\ \\text{(authors' code)}

Computed exactly: a numba kernel accumulates each row of ``S`` over the points sharing a label
with it (a sparse product) and keeps its top-k at once, so neither a dense nor a sparse
n x n similarity matrix is ever held; memory is O(n k).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._kernels import label_knn, label_knn_par
from ._sparse import select_columns
from .params import PARAM_BY_NAME

__all__ = ["label_knn_graph"]

SIMILARITIES = PARAM_BY_NAME["label_similarity"].choices

_CHUNK = 256  # rows per scratch buffer in the kernel


def label_knn_graph(
    Y: sp.csr_matrix,
    n_neighbors: int,
    *,
    similarity: str,
    symmetric: bool = True,
    parallel: bool = False,
) -> sp.csr_matrix:
    """Sparse label-similarity graph restricted to each point's nearest neighbours.

    Parameters
    ----------
    Y : csr_matrix (n, L), binary labels of the cluster's points (only the pattern is read).
    n_neighbors : neighbours kept per point, the point itself included (it is its own most
        similar point whenever it has labels). Clipped to ``n``.
    similarity : ``"cosine"`` (authors' code) or ``"dot"`` (inner product, paper).
    symmetric : return Omega union Omega^T (what the symmetric eigen-step of SVP needs);
        ``False`` gives the directed kNN graph.
    parallel : use the row-parallel kernel (only when no other task runs concurrently).

    Returns
    -------
    G : csr_matrix (n, n), float32 (what SVP's products use), sorted indices. Only strictly
        positive similarities are kept: a point without labels has an empty row, and pairs
        sharing no label are never neighbours. Ties are broken by the smaller point index, so
        the graph is deterministic.
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}.")
    n = Y.shape[0]
    k = max(1, min(n_neighbors, n))
    Yb = sp.csr_matrix(Y, dtype=np.float64)
    Yb = select_columns(Yb, np.unique(Yb.indices))  # the labels in use: nothing of size L
    Yb.sort_indices()
    YbT = Yb.T.tocsr()
    deg = np.maximum(np.diff(Yb.indptr), 1).astype(np.float64)  # label-free rows: never read
    cols = np.empty((n, k), dtype=np.int32)
    vals = np.empty((n, k), dtype=np.float32)
    kernel = label_knn_par if parallel else label_knn
    kernel(
        Yb.indptr,
        Yb.indices,
        YbT.indptr,
        YbT.indices,
        deg,
        similarity == "cosine",
        k,
        cols,
        vals,
        _CHUNK,
    )
    keep = cols >= 0
    G = sp.csr_matrix(
        (vals[keep], cols[keep], np.concatenate([[0], np.cumsum(keep.sum(1))])), shape=(n, n)
    )
    if symmetric:
        # Values are symmetric similarities, so the union takes the max of two equal values.
        G = G.maximum(G.T).tocsr()
    G.sort_indices()
    return G
