"""A regular lattice among points: the grid in which a fractional laser places its spots.

Ablative fractional lasers place their microscopic treatment zones on a regular grid
(spacing typically 0.5-2 mm, Manstein et al. [1]); the crust each zone leaves sits on that
grid, while pores, freckles and noise lie where they happen to be. This module finds such
a grid among object centres and says which centres lie on it.

1. :func:`lattice_vectors`: the displacements between every pair of centres closer than
   a few pitches are histogrammed (the pair-displacement form of the autocorrelation
   used to find a crystal's lattice, cf. Patterson [2]); a lattice makes the histogram
   peak at its basis vectors, which scattered points do not. The strongest peak at a
   distance within the allowed pitch is the first vector, the strongest not parallel to
   it the second; each must stand ``min_contrast`` times above the histogram's mean
   over the allowed distances (what scattered points of the same density give by chance)
   and hold at least ``min_fraction`` of the centres; the pair is then reduced to the
   lattice's shortest basis (Lagrange-Gauss reduction: a diagonal becomes a side);
2. :func:`lattice_neighbours`: for each centre, how many of the four neighbours ±a, ±b of
   a lattice site are centres too (within a tolerance).

References
----------
.. [1] Manstein D., Herron G.S., Sink R.K., Tanner H., Anderson R.R. Fractional
       photothermolysis: a new concept for cutaneous remodeling using microscopic patterns
       of thermal injury. Lasers Surg Med 2004;34:426-438.
.. [2] Patterson A.L. A Fourier series method for the determination of the components of
       interatomic distances in crystals. Phys Rev 1934;46:372-376.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["lattice_vectors", "lattice_neighbours"]


def lattice_vectors(centres: np.ndarray, min_pitch_px: float, max_pitch_px: float,
                    min_contrast: float = 3.0, min_fraction: float = 0.2
                    ) -> np.ndarray | None:
    """The basis of a regular lattice formed by (most of) ``centres``, if there is one.

    Parameters
    ----------
    centres : (N, 2) ndarray
        Point coordinates (row, column), pixels.
    min_pitch_px, max_pitch_px : float
        Range of the lattice spacing, pixels.
    min_contrast : float
        Least ratio of a basis vector's pair count to the mean count at the allowed
        distances.
    min_fraction : float
        Least share of the centres that must have a neighbour at each basis vector.

    Returns
    -------
    (2, 2) ndarray or None
        The two basis vectors (rows), pixels; None when the centres form no lattice.
    """
    pts = np.asarray(centres, dtype=float).reshape(-1, 2)
    if len(pts) < 8:
        return None
    pairs = cKDTree(pts).query_pairs(max_pitch_px * 1.05, output_type="ndarray")
    if len(pairs) == 0:
        return None
    d = pts[pairs[:, 1]] - pts[pairs[:, 0]]
    d = np.concatenate([d, -d])
    d = d[np.hypot(d[:, 0], d[:, 1]) >= min_pitch_px * 0.95]
    bin_px = max(min_pitch_px / 6.0, 1.0)
    edges = np.arange(-max_pitch_px * 1.05, max_pitch_px * 1.05 + bin_px, bin_px)
    counts, _, _ = np.histogram2d(d[:, 0], d[:, 1], bins=(edges, edges))
    # a point's displacement may fall on a bin edge: pool each bin with its neighbours
    pooled = sum(np.roll(np.roll(counts, i, 0), j, 1) for i in (-1, 0, 1) for j in (-1, 0, 1))
    centre = 0.5 * (edges[:-1] + edges[1:])
    yy, xx = np.meshgrid(centre, centre, indexing="ij")
    radius = np.hypot(yy, xx)
    allowed = (radius >= min_pitch_px) & (radius <= max_pitch_px)
    need = max(min_fraction * len(pts), min_contrast * pooled[allowed].mean())
    basis: list[np.ndarray] = []
    for _ in range(2):
        order = np.argsort(pooled.ravel())[::-1]
        for k in order:
            if pooled.flat[k] < need:
                return None
            v = np.array([yy.flat[k], xx.flat[k]])
            if not allowed.flat[k]:
                continue
            if basis:
                cos = abs(v @ basis[0]) / (np.hypot(*v) * np.hypot(*basis[0]))
                if cos > np.cos(np.radians(30)):
                    continue
            near = d[np.hypot(*(d - v).T) <= 1.5 * bin_px]  # refine: mean displacement there
            basis.append(near.mean(axis=0))
            break
    return _reduced(*basis)


def _reduced(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest basis of the lattice spanned by ``a`` and ``b``."""
    while True:
        if a @ a > b @ b:
            a, b = b, a
        m = round(float(a @ b) / float(a @ a))
        if m == 0:
            return np.array([a, b])
        b = b - m * a


def lattice_neighbours(centres: np.ndarray, basis: np.ndarray, tolerance: float = 0.25
                       ) -> np.ndarray:
    """How many of the four lattice neighbours (± each basis vector) of each centre are
    centres too, within ``tolerance`` x the shorter basis vector.

    Returns
    -------
    (N,) int ndarray
    """
    pts = np.asarray(centres, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, int)
    tree = cKDTree(pts)
    radius = tolerance * min(np.hypot(*basis[0]), np.hypot(*basis[1]))
    found = np.zeros(len(pts), int)
    for v in (basis[0], -basis[0], basis[1], -basis[1]):
        dist, _ = tree.query(pts + v, distance_upper_bound=radius)
        found += np.isfinite(dist)
    return found
