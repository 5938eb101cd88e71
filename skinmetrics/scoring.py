"""Agreement of a measurement with ground truth: the scores of the tests and benchmarks.

* :func:`dice`: Dice similarity coefficient of two masks, 2|A n B| / (|A| + |B|)
  (Dice, Ecology 1945;26:297-302);
* :func:`match_objects`: precision, recall and F1 of detected objects against labelled
  ones, matched one-to-one by centroid distance (the PoreNet scoring: a found pore counts
  when its centroid lies within a few pixels of a labelled pore's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

__all__ = ["dice", "ObjectMatch", "centroids", "match_objects", "match_in_ellipses"]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A n B| / (|A| + |B|) of two boolean masks (1.0 when both empty)."""
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


@dataclass(frozen=True)
class ObjectMatch:
    """Counts of a one-to-one object match and the scores they give."""

    found: int
    truth: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        total = self.found + self.truth
        return 2.0 * self.matched / total if total else 1.0


def centroids(mask: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) row, column centroids of the 8-connected objects of ``mask`` whose centroid
    lies inside ``where`` (all without it)."""
    labels, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros((0, 2))
    c = np.asarray(ndi.center_of_mass(mask, labels, np.arange(1, n + 1)))
    if where is not None:
        r, k = np.clip(np.round(c).astype(int), 0, np.array(mask.shape) - 1).T
        c = c[where[r, k]]
    return c


def match_objects(found: np.ndarray, truth: np.ndarray, max_distance_px: float,
                  where: np.ndarray | None = None) -> ObjectMatch:
    """Match found objects to labelled ones one-to-one by centroid distance.

    Parameters
    ----------
    found, truth : (H, W) bool ndarray or (N, 2) ndarray
        Masks (8-connected objects) or centroids (row, column).
    max_distance_px : float
        A pair matches when its centroids lie at most this far apart.
    where : (H, W) bool ndarray, optional
        Only objects whose centroid lies inside are scored (a labelled region of interest).

    Returns
    -------
    ObjectMatch
        The pairing that maximises the number of matches (Hungarian assignment on the
        pairs within ``max_distance_px``).
    """
    a = centroids(found, where) if found.ndim == 2 and found.dtype == bool else found
    b = centroids(truth, where) if truth.ndim == 2 and truth.dtype == bool else truth
    if len(a) == 0 or len(b) == 0:
        return ObjectMatch(len(a), len(b), 0)
    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), max_distance_px).tocoo()
    return ObjectMatch(len(a), len(b), _most_matches(pairs.row, pairs.col))


def match_in_ellipses(found: np.ndarray, centres: np.ndarray, semi_axes: np.ndarray,
                      margin_px: float = 0.0) -> ObjectMatch:
    """Match found points to labelled ellipses one-to-one: a point may match an ellipse
    when it lies inside it with both semi-axes grown by ``margin_px``.

    Parameters
    ----------
    found : (N, 2) ndarray
        Found points (row, column).
    centres : (M, 2) ndarray
        Centres of the labelled ellipses (row, column), axes along the rows and columns.
    semi_axes : (M, 2) ndarray
        Their semi-axes along the rows and the columns, px.
    margin_px : float
        Added to both semi-axes.

    Returns
    -------
    ObjectMatch
        The pairing that maximises the number of matches.
    """
    found = np.asarray(found, float).reshape(-1, 2)
    centres = np.asarray(centres, float).reshape(-1, 2)
    if len(found) == 0 or len(centres) == 0:
        return ObjectMatch(len(found), len(centres), 0)
    reach = np.asarray(semi_axes, float).reshape(-1, 2) + margin_px
    scaled = (found[:, None, :] - centres[None]) / reach[None]
    rows, cols = np.nonzero((scaled**2).sum(axis=-1) <= 1.0)
    return ObjectMatch(len(found), len(centres), _most_matches(rows, cols))


def _most_matches(rows: np.ndarray, cols: np.ndarray) -> int:
    """The largest number of one-to-one pairs among the allowed pairs (rows[i], cols[i])
    (Hungarian assignment: an allowed pair costs 0, any other 1)."""
    if len(rows) == 0:
        return 0
    urows, ucols = np.unique(rows), np.unique(cols)
    cost = np.ones((len(urows), len(ucols)))
    cost[np.searchsorted(urows, rows), np.searchsorted(ucols, cols)] = 0.0
    r, c = linear_sum_assignment(cost)
    return int(np.count_nonzero(cost[r, c] == 0))
