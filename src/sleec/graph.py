"""Step 2 of SLEEC: the label k-nearest-neighbour graph Omega of one cluster (paper Sec. 3).

``(i, j)`` is in Omega iff ``j`` is among the ``n_neighbors`` points most similar to ``i`` by
their label vectors. SVP then fits only these entries of the label Gram matrix:

.. math:: G = P_\\Omega(S), \\quad S_{ij} = \\langle y_i, y_j \\rangle
          \\ \\text{(paper) or}\\ \\cos(y_i, y_j)\\ \\text{(authors' code)}

Computed exactly: ``S`` is formed one block of rows at a time as a sparse product and cut to
its top-k per row, so no dense n x n matrix is ever held.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ._kernels import csr_row_topk

SIMILARITIES = ("cosine", "dot")


def label_knn_graph(Y: sp.csr_matrix, n_neighbors: int, *, similarity: str = "cosine",
                    symmetric: bool = True, block_size: int | None = None) -> sp.csr_matrix:
    """Sparse label-similarity graph restricted to each point's nearest neighbours.

    Parameters
    ----------
    Y : csr_matrix (n, L), binary labels of the cluster's points.
    n_neighbors : neighbours kept per point, the point itself included (it is its own most
        similar point whenever it has labels). Clipped to ``n``.
    similarity : ``"cosine"`` (authors' code, default) or ``"dot"`` (inner product, paper).
    symmetric : return Omega union Omega^T (what the symmetric eigen-step of SVP needs);
        ``False`` gives the directed kNN graph.
    block_size : rows of ``Y Y^T`` formed at once; by default about ``2**24 / n`` rows, so a
        block holds at most ~16M similarities (~200 MB) even when every pair shares a label.

    Returns
    -------
    G : csr_matrix (n, n), float64, sorted indices. Only strictly positive similarities are
        kept: a point without labels has an empty row, and pairs sharing no label are never
        neighbours. Ties are broken by the smaller point index, so the graph is deterministic.
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}.")
    n = Y.shape[0]
    k = max(1, min(n_neighbors, n))
    if block_size is None:
        block_size = int(np.clip(2**24 // max(n, 1), 64, 4096))
    Yw = normalize(Y, copy=True) if similarity == "cosine" else Y.copy()
    Yw = sp.csr_matrix(Yw, dtype=np.float64)
    YwT = Yw.T.tocsr()
    parts = []
    for start in range(0, n, block_size):
        S = (Yw[start:start + block_size] @ YwT).tocsr()
        S.sort_indices()
        indptr, indices, data = csr_row_topk(S.indptr, S.indices, S.data, k)
        parts.append(sp.csr_matrix((data, indices, indptr), shape=S.shape))
    G = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((n, n))
    if symmetric:
        # Values are symmetric similarities, so the union takes the max of two equal values.
        G = G.maximum(G.T).tocsr()
    G.sort_indices()
    return G
