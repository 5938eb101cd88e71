"""Fit the ``acne_lesion`` layer's lesion score on the ACNE04 TUNE faces; prints TOML lines.

    python benchmarks/fit_acne_lesion_score.py [--data ../shared/data]

About 4 min on 2 cores. Uses only the TUNE faces of ``benchmarks/real_data.py --only
acne_lesions``: the acne04_valid faces with Acne04-v2 expert lesion circles, sorted by file
name, even index (the CHECK faces are not read). Each face is measured through
:func:`skinmetrics.core.measure` at 4 px/mm with the acne pipeline, as there, and its
candidates are the layer's own (:func:`skinmetrics.stages.acne_lesion.lesion_candidates` on
the skin region within the face's outline, with the ``[acne_lesion]`` section of
``pipelines/acne.toml``). A candidate is labelled a lesion when its centre lies inside any
expert ellipse with both semi-axes grown by 3 px.

The score is a logistic regression (Cox 1958) of the candidates' standardised
:func:`~skinmetrics.stages.acne_lesion.score_features` (mean and population SD over the
TUNE candidates): maximum likelihood with an L2 penalty, the mean log-loss plus 0.5 x 0.001
x the sum of the squared weights (not the intercept), minimised by scipy's L-BFGS-B from
zero. ``min_probability`` is the threshold of highest mean F1 over held-out halves of TUNE:
TUNE split by index parity and nine random halvings (numpy seed 1), the score fitted on one
half and :func:`~skinmetrics.stages.acne_lesion.select_lesions` scored on the other, both
ways (20 held-out halves; one-to-one matching and pooled F1, Spearman's rho of the counts,
as in ``real_data.py``, with the candidates' centres as the found lesions). Prints the
cross-validated F1 and rho at that threshold and the score's lines of ``[acne_lesion]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from real_data import ACNE04_PX_PER_MM, acne04_lesion_faces, lesion_scores
from scipy.optimize import minimize

from skinmetrics.core import measure
from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline
from skinmetrics.scoring import match_in_ellipses
from skinmetrics.stages import acne_lesion

#: Expert ellipses grown by this (px) to label and match candidates, as in real_data.py.
MARGIN_PX = 3.0
#: Weight of the L2 penalty on the standardised weights.
L2_PENALTY = 1e-3
#: Random halvings of TUNE (besides the one by index parity) and their numpy seed.
HALVINGS, SEED = 9, 1
#: Thresholds of the probability tried for ``min_probability``.
THRESHOLDS = np.round(np.arange(0.05, 0.601, 0.025), 3)
#: What each feature of the score is (the comments of the TOML lines).
FEATURE_TEXT = {
    "z": "a* response in robust SDs of the photo's response at its scale",
    "z_local": "the response over its local RMS within local_window_mm",
    "contrast_a": "a* of the spot minus the skin around's (CIELAB a*)",
    "contrast_ei": "EI of the spot minus the skin around's (EI units)",
    "darkening_l": "CIELAB L* of the skin around minus the spot's",
    "darkness_od": "luminance OD of the centre over the median skin's",
    "ei_above_skin": "EI of the centre minus the median skin's (EI units)",
    "roundness": "smaller / larger principal curvature of the blurred a* (1 round, "
                 "0 no maximum)",
    "skin_fraction": "share of skin in the square of half-side one radius around the spot",
    "passes_rules": "1 when the spot passes all nine rules above, else 0",
}


def harvest(folder: Path, faces: list[dict], params: Mapping[str, float]) -> list[dict]:
    """The layer's candidates on each face, their score features and labels.

    Parameters
    ----------
    folder : Path
        The acne04_valid folder.
    faces : list of dict
        Entries of :func:`real_data.acne04_lesion_faces`.
    params : mapping
        The ``[acne_lesion]`` pipeline section.

    Returns
    -------
    list of dict
        Per face: ``candidates`` (:func:`acne_lesion.lesion_candidates`), ``features``
        ((N, len(SCORE_FEATURES)) :func:`acne_lesion.score_features`), ``lesion`` ((N,)
        bool: centre inside an expert ellipse + ``MARGIN_PX``), ``centres`` and
        ``semi_axes`` ((M, 2) row, column of the expert ellipses, px).
    """
    pipeline = load_pipeline("acne")
    out = []
    for e in faces:
        photo = measure(read_image(folder / "images" / e["file_name"]), pipeline,
                        px_per_mm=ACNE04_PX_PER_MM, chart="none", view="front")
        where = photo.detection.roi
        if photo.face_area is not None:
            where = where & photo.face_area
        candidates = acne_lesion.lesion_candidates(photo.detection.planes, where, params,
                                                   photo.detection.scale.size_px_per_mm)
        centres = np.array([(les["cy"], les["cx"]) for les in e["lesions"]], float)
        semi_axes = np.array([(les["ry"], les["rx"]) for les in e["lesions"]], float)
        points = np.column_stack([candidates["y"], candidates["x"]])
        inside = ((points[:, None] - centres[None]) / (semi_axes[None] + MARGIN_PX)) ** 2
        out.append({"candidates": candidates,
                    "features": acne_lesion.score_features(candidates, params),
                    "lesion": (inside.sum(axis=-1) <= 1).any(axis=1),
                    "centres": centres, "semi_axes": semi_axes})
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def fit_score(faces: list[dict]) -> dict[str, float]:
    """The score's standardisation, weights and intercept fitted on ``faces``.

    Parameters
    ----------
    faces : list of dict
        Output of :func:`harvest`.

    Returns
    -------
    dict
        ``score_intercept`` and, per feature f, ``<f>_mean``, ``<f>_sd``, ``<f>_weight``.
    """
    x = np.concatenate([f["features"] for f in faces])
    y = np.concatenate([f["lesion"] for f in faces]).astype(float)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    design = np.column_stack([np.ones(len(x)), (x - mean) / sd])

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        logit = design @ b
        gradient = design.T @ (1 / (1 + np.exp(-logit)) - y) / len(y)
        gradient[1:] += L2_PENALTY * b[1:]
        return (float(np.mean(np.logaddexp(0, logit) - y * logit))
                + 0.5 * L2_PENALTY * float(b[1:] @ b[1:]), gradient)

    b = minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B").x
    fitted = {"score_intercept": float(b[0])}
    for f, m, s, w in zip(acne_lesion.SCORE_FEATURES, mean, sd, b[1:], strict=True):
        fitted |= {f"{f}_mean": float(m), f"{f}_sd": float(s), f"{f}_weight": float(w)}
    return fitted


def held_out_scores(faces: list[dict], params: Mapping[str, float]) -> np.ndarray:
    """Pooled F1 and Spearman's rho of the lesions selected on each held-out half of
    ``faces`` at each of :data:`THRESHOLDS`.

    Parameters
    ----------
    faces : list of dict
        Output of :func:`harvest`.
    params : mapping
        The ``[acne_lesion]`` pipeline section (its score is replaced by the fitted one).

    Returns
    -------
    (2 x (HALVINGS + 1), len(THRESHOLDS), 2) ndarray
        F1 and rho per held-out half and threshold.
    """
    n = len(faces)
    rng = np.random.default_rng(SEED)
    halvings = [(np.arange(0, n, 2), np.arange(1, n, 2))]
    halvings += [tuple(np.split(rng.permutation(n), [n // 2])) for _ in range(HALVINGS)]
    scores = []
    for a, b in halvings:
        for fit_on, held_out in ((a, b), (b, a)):
            fitted = {**params, **fit_score([faces[i] for i in fit_on])}
            scores.append([])
            for t in THRESHOLDS:
                rows = []
                for i in held_out:
                    found = acne_lesion.select_lesions(faces[i]["candidates"],
                                                       fitted | {"min_probability": t})
                    m = match_in_ellipses(found[:, [1, 0]], faces[i]["centres"],
                                          faces[i]["semi_axes"], MARGIN_PX)
                    rows.append({"found": m.found, "expert": m.truth, "matched": m.matched})
                s = lesion_scores(rows)
                scores[-1].append((s["f1"], s["rho"]))
    return np.array(scores)


def toml_lines(fitted: Mapping[str, float]) -> list[str]:
    """The score's lines of ``[acne_lesion]``, commented as in ``pipelines/acne.toml``."""
    def line(name: str, value: str, comment: str) -> str:
        return f"{f'{name} = {value}':<27} # {comment}"

    def number(v: float) -> str:
        return f"{v:.4f}" if abs(v) < 1 else f"{v:.3f}"

    lines = ["# the lesion score: log-odds = score_intercept + sum over the features f of "
             "f_weight * (f - f_mean) / f_sd;",
             "# a candidate is a lesion when 1 / (1 + exp(-log-odds)) >= min_probability",
             line("score_intercept", f"{fitted['score_intercept']:.3f}",
                  "log-odds of a candidate whose every feature equals its mean"),
             line("min_probability", f"{fitted['min_probability']:.3f}",
                  "smallest probability of a lesion kept")]
    for f in acne_lesion.SCORE_FEATURES:
        weight = fitted[f"{f}_weight"]
        sign = (" (negative: with the other features equal, a higher one lowers the score)"
                if weight < 0 else "")
        lines += [line(f"{f}_mean", number(fitted[f"{f}_mean"]), f"{f}: {FEATURE_TEXT[f]}"),
                  line(f"{f}_sd", number(fitted[f"{f}_sd"]), f"{f} minus its mean is divided "
                       "by this"),
                  line(f"{f}_weight", f"{weight:.3f}",
                       f"log-odds per standardised unit of {f}{sign}")]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
                        help="folder holding the real data sets (default ../shared/data)")
    args = parser.parse_args()
    start = time.perf_counter()
    folder = args.data / "acne04_valid"
    tune = [e for e in acne04_lesion_faces(folder) if e["split"] == "TUNE"]
    params = load_pipeline("acne").params["acne_lesion"]
    faces = harvest(folder, tune, params)
    scores = held_out_scores(faces, params).mean(axis=0)
    best = int(np.argmax(scores[:, 0]))
    fitted = fit_score(faces) | {"min_probability": float(THRESHOLDS[best])}
    candidates = sum(len(f["lesion"]) for f in faces)
    print(f"# fitted on {len(faces)} TUNE faces, {candidates} candidates"
          f" ({sum(f['lesion'].sum() for f in faces)} in an expert ellipse + {MARGIN_PX:g} px);"
          f" held-out halves at min_probability {THRESHOLDS[best]:.3f}: mean F1"
          f" {scores[best, 0]:.3f}, rho {scores[best, 1]:.3f}"
          f" ({time.perf_counter() - start:.0f} s)")
    print("\n".join(toml_lines(fitted)))


if __name__ == "__main__":
    main()
