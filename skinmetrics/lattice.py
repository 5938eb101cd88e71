"""A regular lattice among points: the grid in which a fractional laser places its spots.

Ablative fractional lasers place their microscopic treatment zones on a regular grid
(spacing typically 0.5-2 mm, Manstein et al. [1]); the crust each zone leaves sits on that
grid, while pores, freckles and noise lie where they happen to be. This module finds such
a grid among object centres and says which centres lie on it.

1. :func:`lattice_vectors`: the periodogram of the centres (the squared modulus of their
   Fourier sum over the number of centres, Bartlett's spectrum of a point pattern [2]; the
   centres are binned on cells a quarter of the smallest pitch and Fourier-transformed) is
   searched over the frequencies of the allowed pitches. For scattered points each value is
   exponentially distributed with mean 1 (estimated robustly as the median over ln 2), so
   a value above ln(M / ``false_alarm``) among M frequencies arises by chance with
   probability at most ``false_alarm`` (a Bonferroni bound, cf. Schuster's periodogram
   test [3]). A lattice puts peaks at its reciprocal vectors: the strongest significant
   one is the first, the strongest significant one not within 30 degrees of parallel to
   it the second. Unlike a histogram of pair displacements, whose peaks the placement
   jitter of the spots smears over many bins, the first-order peaks keep most of their
   height (a jitter of a tenth of the pitch lowers them by a third), and they stand out
   even when scattered dots outnumber the grid's several times. The real-space basis is
   the inverse of the two, reduced to the lattice's shortest (Lagrange-Gauss), refined to
   the mean displacement between the centres it pairs and kept when each vector pairs
   more centres than half and one and a half of it do (the chance level c): with the two
   diagonals a + b and a - b by at least ``min_contrast`` Poisson standard deviations
   sqrt(c), which a grid that has shed most of its dots reaches only with the three steps
   together, and on its own by ``min_step_contrast`` (a harmonic of a coarser grid pairs
   no more than chance, though the diagonals of the half-diagonal one are steps of that
   grid);
2. :func:`lattice_neighbours`: for each centre, how many of the eight neighbours of a
   lattice site, ±a, ±b, ±(a + b) and ±(a - b), are centres too (within a tolerance).

References
----------
.. [1] Manstein D., Herron G.S., Sink R.K., Tanner H., Anderson R.R. Fractional
       photothermolysis: a new concept for cutaneous remodeling using microscopic patterns
       of thermal injury. Lasers Surg Med 2004;34:426-438.
.. [2] Bartlett M.S. The spectral analysis of point processes. J R Stat Soc B
       1963;25:264-296.
.. [3] Schuster A. On the investigation of hidden periodicities with application to a
       supposed 26 day period of meteorological phenomena. Terr Magn 1898;3:13-41.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["lattice_vectors", "lattice_neighbours"]

#: Pairing tolerance of a lattice vector, as a fraction of the shorter basis vector.
TOLERANCE = 0.25

#: Lattice neighbours :func:`lattice_neighbours` looks for around each centre.
NEIGHBOURS = 8


def lattice_vectors(centres: np.ndarray, min_pitch_px: float, max_pitch_px: float,
                    min_contrast: float = 5.0, false_alarm: float = 1e-3,
                    min_step_contrast: float = 2.0) -> np.ndarray | None:
    """The basis of a regular lattice formed by (part of) ``centres``, if there is one.

    Parameters
    ----------
    centres : (N, 2) ndarray
        Point coordinates (row, column), pixels.
    min_pitch_px, max_pitch_px : float
        Range of the lattice spacing, pixels.
    min_contrast : float
        Least excess of the centres paired by a basis vector and the two diagonals over
        those paired by half and one and a half of each (the chance level c), in Poisson
        standard deviations sqrt(c).
    false_alarm : float
        Largest probability that scattered points give a lattice (the periodogram test).
    min_step_contrast : float
        Least excess of the centres paired by each basis vector alone over its chance
        level, in Poisson standard deviations.

    Returns
    -------
    (2, 2) ndarray or None
        The two basis vectors (rows), pixels; None when the centres form no lattice.
    """
    pts = np.asarray(centres, dtype=float).reshape(-1, 2)
    if len(pts) < 8 or not 0 < min_pitch_px < max_pitch_px:
        return None
    waves = _periodogram_peaks(pts, min_pitch_px, max_pitch_px, false_alarm)
    if waves is None:
        return None
    basis = _reduced(*np.linalg.inv(waves).T)
    tree = cKDTree(pts)
    for _ in range(2):  # refined on the displacements between the centres it pairs
        basis = np.array([_mean_step(tree, pts, v, TOLERANCE * _shorter(basis)) for v in basis])
        if not np.isfinite(basis).all():  # a vector pairs no centres
            return None
    radius = TOLERANCE * _shorter(basis)
    a, b = basis
    steps = [a, b, a + b, a - b]
    paired = np.array([_pairs(tree, pts, u, radius) for u in steps])
    chance = np.array([0.5 * (_pairs(tree, pts, 0.5 * u, radius)
                              + _pairs(tree, pts, 1.5 * u, radius)) for u in steps])
    for k in (0, 1):  # each vector, on its own and with the two diagonals
        alone, together = [k], [k, 2, 3]
        if (paired[alone].sum() < chance[alone].sum() + min_step_contrast
                * np.sqrt(chance[alone].sum())
                or paired[together].sum() < chance[together].sum()
                + max(min_contrast * np.sqrt(chance[together].sum()), 8)):
            return None
    return _reduced(*basis)


def _periodogram_peaks(pts: np.ndarray, min_pitch_px: float, max_pitch_px: float,
                       false_alarm: float) -> np.ndarray | None:
    """Two significant, non-parallel frequency vectors (rows, cycles per px) of the
    periodogram of ``pts`` within the allowed pitches (step 1 of the module text)."""
    cell = min_pitch_px / 4.0
    cells = np.floor((pts - pts.min(axis=0)) / cell).astype(np.intp)
    shape = np.maximum(cells.max(axis=0) + 1, int(np.ceil(4 * max_pitch_px / cell)))
    raster = np.zeros(tuple(shape), np.float32)
    np.add.at(raster, (cells[:, 0], cells[:, 1]), 1.0)
    power = np.abs(np.fft.rfft2(raster)) ** 2 / len(pts)
    fy = np.fft.fftfreq(shape[0], d=cell)[:, None]
    fx = np.fft.rfftfreq(shape[1], d=cell)[None, :]
    freq = np.hypot(fy, fx)
    allowed = (freq >= 1.0 / max_pitch_px) & (freq <= 1.0 / min_pitch_px)
    if np.count_nonzero(allowed) < 2:
        return None
    ratio = power / (np.median(power[allowed]) / np.log(2.0))
    level = np.log(np.count_nonzero(allowed) / false_alarm)
    rows, cols = np.nonzero(allowed & (ratio >= level))
    waves: list[np.ndarray] = []
    for k in np.argsort(-ratio[rows, cols]):
        v = np.array([fy[rows[k], 0], fx[0, cols[k]]])
        if waves and abs(v @ waves[0]) > np.cos(np.radians(30)) * np.hypot(*v) * np.hypot(
                *waves[0]):
            continue
        waves.append(v)
        if len(waves) == 2:
            return np.array(waves)
    return None


def _shorter(basis: np.ndarray) -> float:
    return float(min(np.hypot(*basis[0]), np.hypot(*basis[1])))


def _mean_step(tree: cKDTree, pts: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Mean displacement from each centre to the centre within ``radius`` of it + ``v``,
    over the centres that have one (nan when none has)."""
    dist, j = tree.query(pts + v, distance_upper_bound=radius)
    hit = np.isfinite(dist)
    return (pts[j[hit]] - pts[hit]).mean(axis=0) if hit.any() else np.full(2, np.nan)


def _pairs(tree: cKDTree, pts: np.ndarray, v: np.ndarray, radius: float) -> int:
    """How many centres have a centre within ``radius`` of themselves + ``v``."""
    dist, _ = tree.query(pts + v, distance_upper_bound=radius)
    return int(np.count_nonzero(np.isfinite(dist)))


def _reduced(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest basis of the lattice spanned by ``a`` and ``b``."""
    while True:
        if a @ a > b @ b:
            a, b = b, a
        m = round(float(a @ b) / float(a @ a))
        if m == 0:
            return np.array([a, b])
        b = b - m * a


def lattice_neighbours(centres: np.ndarray, basis: np.ndarray, tolerance: float = TOLERANCE
                       ) -> np.ndarray:
    """How many of the eight lattice neighbours of each centre (± each basis vector, ± their
    sum and difference) are centres too, within ``tolerance`` x the shorter basis
    vector.

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
    a, b = basis
    for v in (a, -a, b, -b, a + b, -a - b, a - b, b - a):
        dist, _ = tree.query(pts + v, distance_upper_bound=radius)
        found += np.isfinite(dist)
    return found
