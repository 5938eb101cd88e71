"""Score skinmetrics on the real labelled photos in ../shared/data; prints dated Markdown tables.

    python benchmarks/real_data.py [--data ../shared/data]
                                   [--only {pores,pad,pairs,acne,acne_lesions}] [--no-scale]
                                   [--limit N]

Every score stands beside a trivial baseline measured in the same run on the same photos.
The photos are third-party research data (see each folder's SOURCE.txt); they are read
from ``--data`` and never copied into the project.

* ``pores`` (porenet_left_half: one face half, expert pixel labels of pores and a region of
  interest): the ``pore`` mask of the acne pipeline at 12.5 px/mm (the face's eye distance
  suggests 12-13) scored by one-to-one centroid matching within 6 px inside the ROI
  (:func:`skinmetrics.scoring.match_objects`): precision, recall, F1 on the whole half and
  on its top and bottom halves (rows). Baseline: black top-hat of the green channel (disk
  of radius 4 px), Otsu's threshold [1] of the top-hat inside the ROI, 8-connected
  components of 2-80 px. Also the whole half taken as if in dimmer light: 3 % luminance
  noise (normal, one value per pixel for the three channels, in linear light; seed 0),
  8-bit sRGB.
* ``pad`` (pad_ufes20_body single: smartphone close-ups of body lesions with expert lesion
  masks [2]): Dice [3] of the lesion mask against the expert mask, per class: pigmented
  (NEV, SEK, MEL) -> the ``pigment`` mask, red (ACK) -> the ``erythema`` mask, of both
  built-in pipelines. The scale is unknown: no px_per_mm is passed (the pipelines'
  ``assumed_px_per_mm`` sizes the filters). Baseline: Otsu's threshold over the whole
  image of CIELAB L* (pigmented: darker is lesion) or a* (red: higher is lesion), all
  pixels past the threshold and the largest 8-connected component alone. Also the share of
  the expert lesion mask inside each pipeline's skin region.
* ``pairs`` (pad_ufes20_body pair: 30 lesions photographed twice, 300 x 300): agreement of
  each lesion's measures between its two captures: lesion area as % of the image (acne
  pipeline; pigment mask for NEV, SEK, MEL, erythema mask for ACK, BCC, SCC; and the
  Otsu baseline of ``pad``, all pixels) and the mean melanin index MI = 100 log10(1/R) and
  erythema index EI = 100 log10(R/G) [4] on linear RGB inside the expert mask. Per class
  and measure: median absolute difference between the captures and the within-lesion
  coefficient of variation (root mean square over lesions of SD / mean of the two
  captures [5]; none for EI, an index that crosses 0).
* ``acne`` (acne04_valid with the Acne04-v2 expert lesion circles, 640 x 640 faces at
  about 4 px/mm, measured at 4 px/mm with the acne pipeline): over the skin region, the
  fraction of lesion-ellipse pixels inside the erythema mask divided by the fraction of the
  other skin pixels (enrichment; 1 = no better than chance), and the mean EI inside the
  ellipses minus that of the other skin (the contrast the photos offer, the same for every
  method). Baseline: Otsu's threshold of a* over the same skin region. Also the share of
  expert lesion centres inside the skin region.
* ``acne_lesions`` (the same 243 faces with expert lesion circles, sorted by file name:
  even index TUNE, on which the ``[acne_lesion]`` rules and lesion score were set; odd
  index CHECK): the ``acne_lesion`` layer measured through :func:`skinmetrics.core.measure`
  at 4 px/mm (``--no-scale``: none given, the face's eye distance and nose set the size
  limits) (face, its exclusions and outline; the acne pipeline with that layer alone,
  which the other layers do not change). A found lesion (the centroid of its outline)
  matches an expert lesion when it lies inside the expert's ellipse with both semi-axes
  grown by 3 px, one-to-one (:func:`skinmetrics.scoring.match_in_ellipses`); precision,
  recall and F1 pooled over the faces (total matches), and Spearman's rho [6] between the
  found and the expert count per face. Baseline: Otsu's threshold [1] of a* over the same search
  region (skin region within the face's outline), each 8-connected blob of 4-2000 px one
  lesion. Lesion size: each found lesion whose centre lies inside an expert ellipse (+ 3 px)
  against the nearest such ellipse, the equivalent diameters of its outline and of the
  ellipse (2 sqrt(ab)).

References
----------
.. [1] Otsu N. A threshold selection method from gray-level histograms. IEEE Trans Syst
       Man Cybern 1979;9:62-66.
.. [2] Pacheco A. G. C. et al. PAD-UFES-20: a skin lesion dataset composed of patient data
       and clinical images collected from smartphones. Data in Brief 2020;32:106221.
.. [3] Dice L. R. Measures of the amount of ecologic association between species.
       Ecology 1945;26:297-302.
.. [4] Diffey B. L., Oliver R. J., Farr P. M. A portable instrument for quantifying
       erythema induced by ultraviolet radiation. Br J Dermatol 1984;111:663-672.
.. [5] Bland J. M., Altman D. G. Measurement error proportional to the mean. BMJ
       1996;313:106.
.. [6] Spearman C. The proof and measurement of association between two things. Am J
       Psychol 1904;15:72-101.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections import defaultdict
from datetime import date
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.stats import spearmanr
from skimage.filters import threshold_otsu

from skinmetrics.colour import (
    erythema_index,
    linear_to_lab,
    linear_to_srgb,
    melanin_index,
    srgb_to_linear,
)
from skinmetrics.core import measure
from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.scoring import dice, match_in_ellipses, match_objects

PIGMENTED = ("NEV", "SEK", "MEL")
RED = ("ACK", "BCC", "SCC")
PIPELINES = ("laser_recovery", "acne")
#: Scale of the 640 x 640 ACNE04 faces (a face about 160 mm wide), px/mm.
ACNE04_PX_PER_MM = 4.0


def read_mask(path: Path) -> np.ndarray:
    """A label image as a bool mask (any non-zero value)."""
    image = read_image(path)
    return (image.max(axis=-1) if image.ndim == 3 else image) > 0


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` (empty stays empty)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 1:
        return mask.copy()
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def otsu_lesion(srgb: np.ndarray, pigmented: bool, where: np.ndarray | None = None) -> np.ndarray:
    """Otsu's threshold of L* (pigmented: below is lesion) or a* (red: above is lesion)
    over ``where`` (whole image without it)."""
    lab = linear_to_lab(srgb_to_linear(srgb))
    plane = lab[..., 0] if pigmented else lab[..., 1]
    values = plane if where is None else plane[where]
    level = threshold_otsu(values)
    mask = plane < level if pigmented else plane > level
    return mask if where is None else mask & where


def tophat_pores(srgb: np.ndarray, roi: np.ndarray, radius_px: int = 4,
                 min_px: int = 2, max_px: int = 80) -> np.ndarray:
    """Baseline pores: black top-hat of the green channel (disk of ``radius_px``), Otsu's
    threshold inside ``roi``, 8-connected components of ``min_px``-``max_px`` pixels."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1,) * 2)
    tophat = cv2.morphologyEx(np.ascontiguousarray(srgb[..., 1]), cv2.MORPH_BLACKHAT, disk)
    mask = (tophat > threshold_otsu(tophat[roi])) & roi
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    keep = (area >= min_px) & (area <= max_px)
    keep[0] = False
    return keep[labels]


def with_luminance_noise(srgb: np.ndarray, relative: float, seed: int = 0) -> np.ndarray:
    """``srgb`` as if taken in dimmer light: linear RGB times 1 + ``relative`` x a normal
    value per pixel (the same for the three channels), quantised to 8-bit sRGB."""
    noise = 1 + relative * np.random.default_rng(seed).standard_normal(srgb.shape[:2])
    linear = srgb_to_linear(srgb) * noise[..., None].astype(np.float32)
    return np.round(linear_to_srgb(linear).clip(0, 1) * 255) / 255


def pores(data: Path, limit: int | None) -> None:
    folder = data / "porenet_left_half"
    srgb = read_image(folder / "face_left_half.png")
    label = read_mask(folder / "pore_label_left_half.png")
    roi = read_mask(folder / "roi_left_half.png")
    start = time.perf_counter()
    found = measure_image(srgb, load_pipeline("acne"), px_per_mm=12.5).masks["pore"]
    seconds = time.perf_counter() - start
    baseline = tophat_pores(srgb, roi)
    noisy = with_luminance_noise(srgb, 0.03)
    found_noisy = measure_image(noisy, load_pipeline("acne"), px_per_mm=12.5).masks["pore"]
    rows = np.arange(roi.shape[0])[:, None]
    folds = {"whole half": roi, "top half (rows < 900)": roi & (rows < roi.shape[0] // 2),
             "bottom half (rows >= 900)": roi & (rows >= roi.shape[0] // 2)}
    print("\n### Pores: porenet_left_half (acne pipeline, 12.5 px/mm; centroid match within 6 px"
          f" inside the ROI; {seconds:.1f} s)\n")
    print("| part | labelled pores | method | found | precision | recall | F1 |")
    print("|---|---:|---|---:|---:|---:|---:|")
    scored = [(part, where, (("skinmetrics", found),
                             ("black top-hat + Otsu (baseline)", baseline)))
              for part, where in folds.items()]
    scored.append(("whole half, 3 % luminance noise", roi,
                   (("skinmetrics", found_noisy),
                    ("black top-hat + Otsu (baseline)", tophat_pores(noisy, roi)))))
    for part, where, methods in scored:
        for method, mask in methods:
            m = match_objects(mask, label, 6, where)
            print(f"| {part} | {m.truth} | {method} | {m.found} | {m.precision:.2f} | "
                  f"{m.recall:.2f} | {m.f1:.2f} |")


def pad_rows(data: Path, subset: str, limit: int | None) -> list[dict]:
    """index.csv rows of one subset (the first ``limit`` of each class, or lesion pairs)."""
    with open(data / "pad_ufes20_body" / "index.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["subset"] == subset]
    if limit is None:
        return rows
    kept, count = [], defaultdict(int)
    for r in rows:
        key = r["diagnostic"] in PIGMENTED if subset == "single" else r["lesion_id"]
        if subset == "single" and count[key] < limit:
            kept.append(r)
            count[key] += 1
        elif subset == "pair" and (len({k["lesion_id"] for k in kept}) < limit
                                   or r["lesion_id"] in {k["lesion_id"] for k in kept}):
            kept.append(r)
    return kept


def pad(data: Path, limit: int | None) -> None:
    folder = data / "pad_ufes20_body"
    pipelines = {name: load_pipeline(name) for name in PIPELINES}
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    in_skin: dict[str, list[float]] = defaultdict(list)
    for r in pad_rows(data, "single", limit):
        srgb = read_image(folder / r["img_file"])
        truth = read_mask(folder / r["mask_file"])
        pigmented = r["diagnostic"] in PIGMENTED
        kind = "pigmented (NEV, SEK, MEL)" if pigmented else "red (ACK)"
        layer = "pigment" if pigmented else "erythema"
        for name, pipeline in pipelines.items():
            masks = measure_image(srgb, pipeline).masks
            scores[kind, f"skinmetrics {name}: {layer} mask"].append(dice(masks[layer], truth))
            in_skin[f"{kind}, {name}"].append(np.count_nonzero(masks["roi"] & truth)
                                              / max(np.count_nonzero(truth), 1))
        otsu = otsu_lesion(srgb, pigmented)
        plane = "L*" if pigmented else "a*"
        scores[kind, f"Otsu on {plane}, all (baseline)"].append(dice(otsu, truth))
        scores[kind, f"Otsu on {plane}, largest component (baseline)"].append(
            dice(largest_component(otsu), truth))
    print("\n### Lesions: pad_ufes20_body single (Dice vs the expert lesion mask; scale not given:"
          " no px_per_mm, the pipelines' assumed 25 px/mm sizes their filters)\n")
    print("| class | photos | method | mean Dice | median Dice |")
    print("|---|---:|---|---:|---:|")
    for (kind, method), values in scores.items():
        print(f"| {kind} | {len(values)} | {method} | {np.mean(values):.2f} | "
              f"{np.median(values):.2f} |")
    print("\nShare of the expert lesion mask inside the skin region (mean, minimum): "
          + "; ".join(f"{k} {np.mean(v):.2f}, {np.min(v):.2f}" for k, v in in_skin.items())
          + ".")


def pairs(data: Path, limit: int | None) -> None:
    folder = data / "pad_ufes20_body"
    pipeline = load_pipeline("acne")
    measures: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in pad_rows(data, "pair", limit):
        srgb = read_image(folder / r["img_file"])
        truth = read_mask(folder / r["mask_file"])
        pigmented = r["diagnostic"] in PIGMENTED
        group = "pigmented (NEV, SEK, MEL)" if pigmented else "red (ACK, BCC, SCC)"
        layer = "pigment" if pigmented else "erythema"
        lesion = f"{r['patient_id']}_{r['lesion_id']}"
        mask = measure_image(srgb, pipeline).masks[layer]
        linear = srgb_to_linear(srgb)
        values = {
            f"lesion area, skinmetrics acne {layer} mask (% of image)": 100.0 * mask.mean(),
            f"lesion area, Otsu on {'L*' if pigmented else 'a*'}, all (baseline, % of image)":
                100.0 * otsu_lesion(srgb, pigmented).mean(),
            # the two captures' own framing and zoom: what any area measure varies by
            "lesion area, the expert's mask (% of image)": 100.0 * truth.mean(),
            "mean MI inside the expert mask": float(melanin_index(linear)[truth].mean()),
            "mean EI inside the expert mask": float(erythema_index(linear)[truth].mean()),
        }
        for name, value in values.items():
            measures[group, name][lesion].append(value)
    print("\n### Repeat captures: pad_ufes20_body pairs (each lesion photographed twice, 300 x 300;"
          " acne pipeline, no px_per_mm)\n")
    print("| class | lesions | measure | median of the two captures' mean |"
          " median absolute difference | within-lesion CV |")
    print("|---|---:|---|---:|---:|---:|")
    for (group, name), per_lesion in measures.items():
        a, b = np.array([v[:2] for v in per_lesion.values() if len(v) >= 2]).T
        mean = (a + b) / 2
        sd = np.abs(a - b) / np.sqrt(2)
        if name.startswith("mean EI"):  # an index that crosses 0 has no CV
            cv = "–"
        else:
            ratio = np.divide(sd, mean, out=np.zeros_like(sd), where=mean != 0)
            cv = f"{100 * np.sqrt(np.mean(ratio ** 2)):.0f} %"
        print(f"| {group} | {len(a)} | {name} | {np.median(mean):.2f} | "
              f"{np.median(np.abs(a - b)):.2f} | {cv} |")


def ellipses(shape: tuple[int, int], lesions: list[dict]) -> np.ndarray:
    """Mask of the expert lesion ellipses (centre cx, cy; semi-axes rx, ry; px)."""
    mask = np.zeros(shape, np.uint8)
    for les in lesions:
        cv2.ellipse(mask, (round(les["cx"]), round(les["cy"])),
                    (max(1, round(les["rx"])), max(1, round(les["ry"]))), 0, 0, 360, 1, -1)
    return mask > 0


def acne(data: Path, limit: int | None) -> None:
    folder = data / "acne04_valid"
    with open(folder / "acne04v2_circles_640.json") as f:
        entries = [e for e in json.load(f)["images"] if e["split"] == "valid" and e["lesions"]]
    entries = entries[:limit]
    pipeline = load_pipeline("acne")
    ratios: dict[str, list[float]] = defaultdict(list)
    pooled: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(4))
    contrast, centres_in_skin, centres = [], 0, 0
    for e in entries:
        srgb = read_image(folder / "images" / e["file_name"])
        result = measure_image(srgb, pipeline, px_per_mm=ACNE04_PX_PER_MM)
        skin = result.masks["roi"]
        for les in e["lesions"]:
            row, col = (min(round(les[k]), n - 1) for k, n in (("cy", skin.shape[0]),
                                                                ("cx", skin.shape[1])))
            centres_in_skin += bool(skin[row, col])
            centres += 1
        lesion = ellipses(skin.shape, e["lesions"]) & skin
        other = skin & ~lesion
        if not lesion.any() or not other.any():
            continue
        ei = erythema_index(srgb_to_linear(srgb))
        contrast.append(float(ei[lesion].mean() - ei[other].mean()))
        for method, red in (("skinmetrics acne: erythema mask", result.masks["erythema"]),
                            ("Otsu on a* over the skin (baseline)",
                             otsu_lesion(srgb, False, skin))):
            counts = np.array([np.count_nonzero(red & lesion), np.count_nonzero(lesion),
                               np.count_nonzero(red & other), np.count_nonzero(other)])
            pooled[method] += counts
            inside, outside = counts[0] / counts[1], counts[2] / counts[3]
            ratios[method].append(inside / outside if outside else np.inf)
    print(f"\n### Redness at acne lesions: acne04_valid ({len(contrast)} faces with expert lesion"
          " circles; acne pipeline at 4 px/mm; over its skin region)\n")
    print("| method | lesion pixels marked | other skin marked | pooled enrichment |"
          " median per-face enrichment |")
    print("|---|---:|---:|---:|---:|")
    for method, c in pooled.items():
        inside, outside = c[0] / c[1], c[2] / c[3]
        print(f"| {method} | {100 * inside:.1f} % | {100 * outside:.1f} % | "
              f"{inside / outside:.2f} | {np.median(ratios[method]):.2f} |")
    print("\nMean EI inside the lesion ellipses minus the other skin: median"
          f" {np.median(contrast):.2f}, mean {np.mean(contrast):.2f} (EI units;"
          f" {np.mean(np.array(contrast) > 0) * 100:.0f} %"
          " of faces positive).")
    print(f"Expert lesion centres inside the skin region: {centres_in_skin} of {centres}"
          f" ({100 * centres_in_skin / max(centres, 1):.0f} %).")


def acne04_lesion_faces(folder: Path) -> list[dict]:
    """The acne04_valid faces with expert lesions, sorted by file name, each with its
    ``split``: even index TUNE (the layer's rules and score set on these), odd index CHECK."""
    with open(folder / "acne04v2_circles_640.json") as f:
        faces = sorted((e for e in json.load(f)["images"] if e["lesions"]),
                       key=lambda e: e["file_name"])
    for i, e in enumerate(faces):
        e["split"] = "TUNE" if i % 2 == 0 else "CHECK"
    return faces


def otsu_blobs(srgb: np.ndarray, where: np.ndarray, min_px: int = 4,
               max_px: int = 2000) -> np.ndarray:
    """Trivial lesion detector: Otsu's threshold of a* over ``where``, each 8-connected
    blob of ``min_px``..``max_px`` pixels one lesion; (N, 2) centroids (row, column)."""
    if not where.any():
        return np.zeros((0, 2))
    a = linear_to_lab(srgb_to_linear(srgb))[..., 1]
    labels, n = ndi.label((a > threshold_otsu(a[where])) & where, structure=np.ones((3, 3)))
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero((size >= min_px) & (size <= max_px)) + 1
    return np.asarray(ndi.center_of_mass(labels > 0, labels, keep)).reshape(-1, 2)


def lesion_faces_measured(folder: Path, faces: list[dict], margin_px: float = 3.0,
                          px_per_mm: float | None = ACNE04_PX_PER_MM
                          ) -> tuple[list[dict], dict[str, float]]:
    """Each face measured with the acne pipeline's ``acne_lesion`` layer (at ``px_per_mm``;
    None: no scale given, the face's) and the Otsu baseline (see the module text): per face
    and method the found, expert and matched counts; and the seconds per face of each (face
    finding and skin region not included)."""
    pipeline = load_pipeline("acne")
    pipeline = dataclasses.replace(pipeline, stages=("acne_lesion",))
    rows, seconds = [], {"acne_lesion": 0.0, "baseline": 0.0}
    for e in faces:
        srgb = read_image(folder / "images" / e["file_name"])
        timings: dict[str, float] = {}
        photo = measure(srgb, pipeline, px_per_mm=px_per_mm, chart="none", view="front",
                        timings=timings)
        seconds["acne_lesion"] += timings["acne_lesion"]
        labels = photo.detection.found["acne_lesion"]
        n = int(labels.max())
        found = np.asarray(ndi.center_of_mass(labels > 0, labels, np.arange(1, n + 1))
                           ).reshape(-1, 2)
        where = photo.detection.roi
        if photo.face_area is not None:
            where = where & photo.face_area
        start = time.perf_counter()
        trivial = otsu_blobs(srgb, where)
        seconds["baseline"] += time.perf_counter() - start
        centres = np.array([(les["cy"], les["cx"]) for les in e["lesions"]], float)
        axes = np.array([(les["ry"], les["rx"]) for les in e["lesions"]], float)
        for method, points in (("acne_lesion", found), ("baseline", trivial)):
            m = match_in_ellipses(points, centres, axes, margin_px)
            rows.append({"face": e["file_name"], "split": e["split"], "method": method,
                         "found": m.found, "expert": m.truth, "matched": m.matched})
        sizes = np.sqrt(4 * np.bincount(labels.ravel(), minlength=n + 1)[1:] / np.pi)
        rows[-2]["diameters"] = lesion_sizes(found, sizes, centres, axes, margin_px)
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows, {k: v / max(len(faces), 1) for k, v in seconds.items()}


def lesion_sizes(found: np.ndarray, diameters: np.ndarray, centres: np.ndarray,
                 semi_axes: np.ndarray, margin_px: float) -> list[tuple[float, float]]:
    """(found, expert) equivalent diameters (px) of each found lesion whose centre
    (row, column) lies inside an expert ellipse grown by ``margin_px``, paired with the
    nearest such ellipse (2 sqrt(a b) for semi-axes a, b)."""
    pairs = []
    for point, d in zip(found, diameters, strict=True):
        inside = (((point - centres) / (semi_axes + margin_px)) ** 2).sum(axis=1) <= 1
        if inside.any():
            near = np.flatnonzero(inside)[np.argmin(np.hypot(*(point - centres[inside]).T))]
            pairs.append((float(d), float(2 * np.sqrt(np.prod(semi_axes[near])))))
    return pairs


def lesion_scores(rows: list[dict]) -> dict[str, float]:
    """Pooled precision, recall, F1 and Spearman's rho (found vs expert count per face) of
    rows of :func:`lesion_faces_measured`."""
    found = np.array([r["found"] for r in rows])
    expert = np.array([r["expert"] for r in rows])
    matched = sum(r["matched"] for r in rows)
    precision = matched / max(found.sum(), 1)
    recall = matched / max(expert.sum(), 1)
    return {"faces": len(rows), "precision": precision, "recall": recall,
            "f1": 2 * matched / max(found.sum() + expert.sum(), 1),
            "rho": float(spearmanr(found, expert)[0]) if len(rows) > 2 else float("nan"),
            "mean_found": float(found.mean()), "mean_expert": float(expert.mean())}


def acne_lesions(data: Path, limit: int | None,
                 px_per_mm: float | None = ACNE04_PX_PER_MM) -> None:
    folder = data / "acne04_valid"
    faces = acne04_lesion_faces(folder)[:limit]
    rows, seconds = lesion_faces_measured(folder, faces, px_per_mm=px_per_mm)
    names = {"acne_lesion": "skinmetrics acne_lesion",
             "baseline": "Otsu a* blobs (baseline)"}
    scale = f"{px_per_mm:g} px/mm" if px_per_mm else "no scale given (the face's)"
    print(f"\n### Acne lesion count: acne04_valid ({len(faces)} faces with expert lesion"
          f" circles, {scale}; match = centre inside the expert ellipse + 3 px, one-to-one)\n")
    print("| method | split | faces | precision | recall | F1 | Spearman rho | mean found |"
          " mean expert |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for method, name in names.items():
        for split in ("TUNE", "CHECK", "all"):
            sel = [r for r in rows if r["method"] == method and split in ("all", r["split"])]
            if not sel:
                continue
            s = lesion_scores(sel)
            print(f"| {name} | {split} | {s['faces']} | {s['precision']:.2f} | "
                  f"{s['recall']:.2f} | {s['f1']:.2f} | {s['rho']:.2f} | "
                  f"{s['mean_found']:.1f} | {s['mean_expert']:.1f} |")
    pairs = np.array([p for r in rows for p in r.get("diameters", [])]).reshape(-1, 2)
    ratio = pairs[:, 0] / pairs[:, 1]
    print(f"\nLesion size: {len(pairs)} found lesions inside an expert ellipse; their outline's"
          " equivalent diameter / the ellipse's: median"
          f" {np.median(ratio):.2f} (quartiles {np.percentile(ratio, 25):.2f}-"
          f"{np.percentile(ratio, 75):.2f}), Spearman rho of the two"
          f" {spearmanr(pairs[:, 0], pairs[:, 1])[0]:.2f}; expert diameter median"
          f" {np.median(pairs[:, 1]) / ACNE04_PX_PER_MM:.1f} mm at {ACNE04_PX_PER_MM:g} px/mm.")
    print("\nPer face: " + ", ".join(f"{names[k]} {1000 * v:.0f} ms" for k, v in seconds.items())
          + " (the layer's detection alone; face finding and skin region not included).")


SETS = {"pores": pores, "pad": pad, "pairs": pairs, "acne": acne, "acne_lesions": acne_lesions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
                        help="folder holding the real data sets (default ../shared/data)")
    parser.add_argument("--only", choices=sorted(SETS), action="append",
                        help="run only this set (repeatable)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N photos per class (pad), lesions (pairs) or faces (acne)")
    parser.add_argument("--no-scale", action="store_true",
                        help="acne_lesions: measure the faces with no px_per_mm given (the "
                             "face's eye distance and nose set the size limits)")
    args = parser.parse_args()
    print(f"## skinmetrics on real labelled photos, {date.today().isoformat()}")
    sets = {**SETS, "acne_lesions": partial(acne_lesions, px_per_mm=None)} if args.no_scale \
        else SETS
    for name in args.only or SETS:
        start = time.perf_counter()
        sets[name](args.data, args.limit)
        print(f"\n({name}: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
