"""The cosine-similarity clustering statistic of a layer's representations (Goldfeld et al. 2019).

For representations t_1..t_n with class labels y_i, the mean cosine similarity over unordered
pairs i < j of the same class (*within*) and of different classes (*between*). A representation
that gathers each class into its own direction raises *within* towards 1 and lowers *between*:
the gap within - between is the clustering statistic. Computed in O(n d) from class sums of the
unit vectors u_i = t_i / |t_i|:

    sum over ordered same-class pairs i != j of u_i . u_j = sum_c |sum_{i in c} u_i|^2 - sum_i |u_i|^2
    sum over ordered pairs of different classes     = |sum_i u_i|^2 - sum_c |sum_{i in c} u_i|^2

A zero vector has no direction: its cosine with anything counts as 0 (it still counts as a pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class CosineClustering:
    """Mean cosine similarity of same-class pairs (``within``) and different-class pairs (``between``).

    ``gap`` = within - between; NaN where a kind of pair does not exist (one class, or singletons).
    """

    within: float
    between: float

    @property
    def gap(self) -> float:
        return self.within - self.between


def cosine_clustering(points: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> CosineClustering:
    """Return the mean cosine similarity of same-class and different-class pairs of ``points``.

    Parameters
    ----------
    points : array or tensor of shape (n, ...)
        One representation per row (flattened to (n, d)), n >= 2.
    labels : array or tensor of shape (n,)
        Class of each row (integers).

    Returns
    -------
    CosineClustering (dimensionless, in [-1, 1]).
    """
    t = torch.as_tensor(points).detach().to(torch.float64).cpu()
    if t.ndim < 2 or t.shape[0] < 2:
        raise ValueError(f"points must have shape (n, ...) with n >= 2 rows; got shape {tuple(t.shape)}")
    t = t.reshape(t.shape[0], -1)
    y = torch.as_tensor(labels).detach().cpu()
    if y.shape != (t.shape[0],) or y.is_floating_point() or y.is_complex():
        raise ValueError(f"labels must be integers of shape ({t.shape[0]},); got {y.dtype} of shape {tuple(y.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("points must be finite")
    norms = t.norm(dim=1, keepdim=True)
    units = torch.where(norms > 0, t / norms.clamp(min=torch.finfo(torch.float64).tiny), torch.zeros_like(t))
    classes, index = torch.unique(y, return_inverse=True)
    class_sums = torch.zeros(len(classes), t.shape[1], dtype=torch.float64).index_add_(0, index, units)
    counts = torch.bincount(index, minlength=len(classes)).to(torch.float64)
    self_terms = float(units.square().sum())
    same = float(class_sums.square().sum())
    total = float(units.sum(0).square().sum())
    n = float(t.shape[0])
    same_pairs = float((counts * (counts - 1)).sum())
    between_pairs = n * n - float(counts.square().sum())
    within = (same - self_terms) / same_pairs if same_pairs > 0 else float("nan")
    between = (total - same) / between_pairs if between_pairs > 0 else float("nan")
    return CosineClustering(within=within, between=between)
