"""Score every layer against phantom ground truth, by skin tone; prints Markdown tables.

    python benchmarks/accuracy.py [--seeds 4] [--size 480x640] [--px-per-mm 25] [--drift 40]
                                  [--drift-size 800x1200] [--jobs N] [--per-pair]
    python benchmarks/accuracy.py --family b [--seeds 4] [--size 600x800] [--series 5]

``--family b`` scores the second phantom family (:mod:`skinmetrics.synthetic_b`: spectral
two-layer skin, large diffuse erythema, brown microcrusts, faint pores, big textured nevi and
keratoses, dense hair on every other seed, 15-30 px/mm): per tone the Dice of erythema and
pigment and the signed error (%) of the crust and pore counts and of the erythema and pigment
areas, beside trivial baselines (Otsu on a* for erythema, on L* for pigment, over the
true skin region); then ``--series`` visit series (day 0, 14, 28 with capture drift)
measured in memory (:func:`measure_image`, no registration) and with :func:`measure`
against the baseline's measurement (registration): the error (percentage points)
of the percent change from baseline of erythema area, crust count, pore count and pigment
area (% of skin) against the truth over the skin both photos show (:func:`common_truth`).

For each skin tone (CIELAB L* of unaffected skin) and seed a phantom is rendered, written
as JPEG, decoded and measured with both built-in pipelines at the known scale. Reported:
Dice and IoU of the roi, erythema and pigment masks; signed relative error (%) of the
microcrust and pore counts and of the erythema, pigment and microcrust areas (mm2), as
mean and worst case over the seeds.

With ``--drift N`` it also scores N baseline / day-28 pairs whose follow-up was captured
with drift (shift up to 3 % of the frame, rotation up to 3 degrees, distance +-3 %,
exposure +-0.5 EV, white balance 0.9-1.1 per channel): the error (percentage points) of
the percent change of erythema area, microcrust count, pore count and pigment spot area
against the truth over the skin both photos show, measured without and with alignment
(registration and colour normalisation), and on N more pairs that hold a ColorChecker in
both photos, with chart calibration and registration; and on those pairs with the
follow-up captured without drift (the same pose, exposure and white balance as the
baseline; only the capture differs): the
floor set by re-photographing alone. Drift pairs are ``--drift-size`` (800x1200 px:
32 x 48 mm at 25 px/mm, a cheek close-up), with and without a chart; each photo is its
own capture (noise, lighting gradient, highlight, hairs). A second table scores the
aligned pairs against the truth over the skin each compared (the registered follow-up's
skin region): the measurement's own error, apart from how leaving out what either photo
cannot measure (glare, clipped skin, hair, the frame) moves the true change.
``--per-pair`` also prints every pair's errors; ``--jobs`` measures pairs in that many
processes (default: all CPUs).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from skinmetrics.colour import linear_to_lab, srgb_to_linear
from skinmetrics.core import measure
from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import CHART_PITCH_FACTOR, VISIT_COURSE, common_truth, make_phantom
from skinmetrics.synthetic_b import make_phantom_b, visit_series_b

TONES = (75.0, 62.0, 50.0, 40.0, 32.0)


def overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two masks."""
    inter, union, total = (a & b).sum(), (a | b).sum(), a.sum() + b.sum()
    return (2 * inter / total if total else 1.0), (inter / union if union else 1.0)


def rel_err(measured: float, truth: float) -> float:
    return 100.0 * (measured - truth) / truth if truth else float("nan")


def score(L: float, seed: int, shape: tuple[int, int], ppm: float, pipes) -> dict:
    ph = make_phantom(shape, ppm, L, seed=seed)
    rgb = decode_image(ph.jpeg)[0]
    lr = measure_image(rgb, pipes["laser_recovery"], ppm)
    ac = measure_image(rgb, pipes["acne"], ppm)
    t = ph.truth
    row = {}
    for name, res in (("roi", lr), ("erythema", lr), ("pigment", lr)):
        row[f"{name}_dice"], row[f"{name}_iou"] = overlap(res.masks[name], ph.masks[name])
    row["crust_count_err"] = rel_err(lr.metrics["microcrust_count"], t["microcrust_count"])
    row["pore_count_err"] = rel_err(ac.metrics["pore_count"], t["pore_count"])
    row["erythema_area_err"] = rel_err(lr.metrics["erythema_area_mm2"], t["erythema_area_mm2"])
    row["pigment_area_err"] = rel_err(lr.metrics["pigment_spot_area_mm2"], t["pigment_area_mm2"])
    row["crust_area_err"] = rel_err(lr.metrics["microcrust_area_mm2"], t["microcrust_area_mm2"])
    return row


DRIFT_METRICS = (  # (pipeline, measured metric, truth layer, kind)
    ("laser_recovery", "erythema_area_mm2", "erythema", "area"),
    ("laser_recovery", "microcrust_count", "microcrust", "count"),
    ("acne", "pore_count", "pore", "count"),
    ("laser_recovery", "pigment_spot_area_pct", "pigment", "pct"),
)


def _drift_pair(k: int, pose, shape, ppm: float, chart: bool, drift: bool
                ) -> dict[str, float]:
    """The errors (pp) of pair ``k`` per ``condition|metric`` (see :func:`drift_scores`)."""
    pipes = {n: load_pipeline(n) for n in ("laser_recovery", "acne")}
    card = None
    if chart:
        card = (0.55, 0.08, 2.5, 4.0)  # top-left x, y (fractions), patch mm, angle
        for pipe in pipes.values():
            pipe.params["scale"]["chart_patch_pitch_mm"] = card[2] * CHART_PITCH_FACTOR
    cam, ev, wb = pose if drift else ((0, 0, 0, 1), 0.0, (1.0, 1.0, 1.0))
    L, seed = TONES[k % len(TONES)], 500 + k
    # every capture its own: noise, lighting gradient, highlight, hairs
    base = make_phantom(shape, ppm, L, seed=seed, capture_seed=1000 + k, camera=(0, 0, 0, 1),
                        chart=card)
    follow = make_phantom(shape, ppm, L, seed=seed, capture_seed=2000 + k, camera=cam,
                          exposure_ev=ev, white_balance=wb, chart=card, **VISIT_COURSE[28])
    mode = "auto" if chart else "none"
    errors = {}
    base_srgb, follow_srgb = decode_image(base.jpeg)[0], decode_image(follow.jpeg)[0]
    for name, pipe in pipes.items():
        b = measure(base_srgb, pipe, px_per_mm=ppm, chart=mode)
        aligned = measure(follow_srgb, pipe, px_per_mm=ppm, chart=mode, baseline=b)
        cond = "aligned" if not chart else "chart" if drift else "nodrift"
        runs = {cond: (aligned.baseline_metrics or b.metrics, aligned.metrics)}
        compared = aligned.result.masks["roi"]
        if not chart:
            runs["unaligned"] = (b.metrics,
                                 measure(follow_srgb, pipe, px_per_mm=ppm, chart=mode).metrics)
        for pipe_name, metric, layer, kind in DRIFT_METRICS:
            if pipe_name != name:
                continue
            # label: (the run it scores, the truth it is scored against)
            truths = {c: (c, common_truth(base, follow, layer, kind)) for c in runs}
            truths[f"{cond} compared"] = (cond, common_truth(base, follow, layer, kind,
                                                             compared))
            for c, (run, (t0, t1)) in truths.items():
                m0, m1 = runs[run]
                # a change from nothing (no spot at baseline) has no percent
                errors[f"{c}|{metric}"] = (
                    100 * (m1[metric] - m0[metric]) / m0[metric] - 100 * (t1 - t0) / t0
                    if t0 and m0[metric] else np.nan)
    return errors


def drift_scores(n_pairs: int, shape, ppm: float, chart: bool = False, drift: bool = True,
                 jobs: int = 1) -> list[dict[str, float]]:
    """Percent-change errors (pp) per pair, condition and metric on drifted visit pairs.

    Without ``chart``: conditions ``unaligned`` and ``aligned`` (registration and colour
    normalisation). With ``chart`` both photos hold a ColorChecker: condition ``chart``
    (chart calibration and registration). Without ``drift`` the follow-up is captured
    as the baseline was (pose, exposure, white balance; only the capture differs: its
    noise, lighting gradient, highlight and hairs): condition ``nodrift``, the floor the
    others are compared with. A pair whose baseline (true or measured) is zero has no
    percent change: NaN. Pairs are measured in ``jobs`` processes.
    """
    rng = np.random.default_rng(2026)
    poses = [((rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(-3, 3),
               rng.uniform(0.97, 1.03)), rng.uniform(-0.5, 0.5), tuple(rng.uniform(0.9, 1.1, 3)))
             for _ in range(n_pairs)]
    pair = partial(_drift_pair, shape=shape, ppm=ppm, chart=chart, drift=drift)
    if jobs == 1:
        return [pair(k, pose) for k, pose in enumerate(poses)]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(pair, range(n_pairs), poses))


def _scale_b(k: int, n: int) -> float:
    """px/mm of family-b phantom ``k`` of ``n``: spread over 15-30."""
    return 15.0 + 15.0 * k / max(n - 1, 1)


def score_b(L: float, seed: int, shape: tuple[int, int], ppm: float, pipes, hair: bool
            ) -> dict:
    """Scores of one family-b phantom."""
    ph = make_phantom_b(shape, ppm, L, seed, hair=hair)
    rgb = decode_image(ph.jpeg)[0]
    lr = measure_image(rgb, pipes["laser_recovery"], ppm)
    ac = measure_image(rgb, pipes["acne"], ppm)
    t = ph.truth
    # trivial baselines over the true skin region: Otsu on a* (smoothed 0.5 mm) for
    # erythema, Otsu on dark L* (smoothed 0.2 mm) for pigment (Otsu 1979)
    lab = linear_to_lab(srgb_to_linear(rgb)).astype(np.float32)
    roi = ph.masks["roi"]
    a_star = cv2.GaussianBlur(lab[..., 1], (0, 0), 0.5 * ppm)
    lum = cv2.GaussianBlur(lab[..., 0], (0, 0), 0.2 * ppm)
    otsu_ery = roi & (a_star > threshold_otsu(a_star[roi]))
    otsu_pig = roi & (lum < threshold_otsu(lum[roi]))
    return {"erythema_dice": overlap(lr.masks["erythema"], ph.masks["erythema"])[0],
            "otsu_erythema_dice": overlap(otsu_ery, ph.masks["erythema"])[0],
            "otsu_pigment_dice": overlap(otsu_pig, ph.masks["pigment"])[0],
            "pigment_dice": overlap(lr.masks["pigment"], ph.masks["pigment"])[0],
            "crust_count_err": rel_err(lr.metrics["microcrust_count"], t["microcrust_count"]),
            "pore_count_err": rel_err(ac.metrics["pore_count"], t["pore_count"]),
            "erythema_area_err": rel_err(lr.metrics["erythema_area_mm2"],
                                         t["erythema_area_mm2"]),
            "pigment_area_err": rel_err(lr.metrics["pigment_spot_area_mm2"],
                                        t["pigment_area_mm2"])}


def series_b_errors(k: int, shape: tuple[int, int], ppm: float, pipes) -> dict[str, float]:
    """Percent-change errors (pp) of family-b visit series ``k`` per ``condition|day|metric``:
    ``memory`` (each photo by :func:`measure_image`, no registration) and ``registered``
    (:func:`skinmetrics.core.measure` of the follow-up with its baseline: registration and
    colour normalisation, as ``skinmetrics run`` does)."""
    L = TONES[k % len(TONES)]
    visits = visit_series_b(shape, ppm, L, seed=700 + k, hair=bool(k % 2))
    runs: dict[str, dict[int, dict[str, dict]]] = {"memory": {}, "registered": {}}
    srgb = {day: decode_image(ph.jpeg)[0] for day, ph in visits.items()}
    for day in visits:
        runs["memory"][day] = {n: measure_image(srgb[day], pipe, ppm).metrics
                               for n, pipe in pipes.items()}
    for name, pipe in pipes.items():
        b = measure(srgb[0], pipe, px_per_mm=ppm, chart="none")
        for day in (14, 28):
            f = measure(srgb[day], pipe, px_per_mm=ppm, chart="none", baseline=b)
            reg = runs["registered"].setdefault(day, {})
            reg[name] = f.metrics
            reg[f"{name} baseline"] = f.baseline_metrics or b.metrics
    errors = {}
    for cond, measured in runs.items():
        for day in (14, 28):
            for pipe_name, metric, layer, kind in DRIFT_METRICS:
                t0, t1 = common_truth(visits[0], visits[day], layer, kind)
                m1 = measured[day][pipe_name][metric]
                m0 = (measured[0][pipe_name] if cond == "memory"
                      else measured[day][f"{pipe_name} baseline"])[metric]
                errors[f"{cond}|{day}|{metric}"] = (
                    100 * (m1 - m0) / m0 - 100 * (t1 - t0) / t0 if t0 and m0 else np.nan)
    return errors


def main_b(args) -> None:
    """Print the family-b tables (see the module docstring)."""
    shape = tuple(int(v) for v in args.size.split("x"))
    pipes = {n: load_pipeline(n) for n in ("laser_recovery", "acne")}
    t0 = time.perf_counter()
    rows = {L: [score_b(L, 1000 * s + int(L), shape, _scale_b(s, args.seeds), pipes,
                        hair=bool(s % 2))
                for s in range(args.seeds)] for L in TONES}
    print(f"skinmetrics accuracy on family-b phantoms: {date.today()}, {platform.machine()}, "
          f"{args.seeds} seeds x {len(TONES)} tones, {shape[0]}x{shape[1]} px at 15-30 px/mm "
          f"({time.perf_counter() - t0:.0f} s)\n")
    cols = ["erythema_dice", "otsu_erythema_dice", "pigment_dice", "otsu_pigment_dice",
            "crust_count_err", "pore_count_err",
            "erythema_area_err", "pigment_area_err"]
    head = ["skin L*"] + [c.replace("_err", " err %").replace("_", " ") + " mean (worst)"
                          for c in cols]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    everything = [r for per_tone in rows.values() for r in per_tone]
    for L, rs in list(rows.items()) + [("all", everything)]:
        cells = [str(L)]
        for c in cols:
            e = np.array([r[c] for r in rs])
            worst = np.nanmin(e) if c.endswith("dice") else e[np.nanargmax(np.abs(e))]
            cells.append(f"{np.nanmean(e):.3f} (min {worst:.3f})" if c.endswith("dice")
                         else f"{np.nanmean(e):+.1f} ({worst:+.1f})")
        print("| " + " | ".join(cells) + " |")
    if args.series:
        t0 = time.perf_counter()
        per = [series_b_errors(k, shape, _scale_b(k, args.series), pipes)
               for k in range(args.series)]
        print(f"\npercent change from baseline, family b, {args.series} visit series with "
              f"capture drift ({time.perf_counter() - t0:.0f} s): error in percentage points, "
              "mean |error| (worst); undefined: no truth or no measurement at baseline\n")
        conds = {"memory": "in memory, unregistered", "registered": "measure, registered"}
        print("| metric | " + " | ".join(f"{c} day {d}" for c in conds.values() for d in (14, 28))
              + " |\n" + "|---" * 5 + "|")
        for _, metric, _, _ in DRIFT_METRICS:
            cells = []
            for cond in conds:
                for day in (14, 28):
                    e = np.array([p[f"{cond}|{day}|{metric}"] for p in per])
                    nan = f", {np.isnan(e).sum()} undefined" if np.isnan(e).any() else ""
                    cells.append(f"{np.nanmean(np.abs(e)):.1f} "
                                 f"({e[np.nanargmax(np.abs(e))]:+.1f}){nan}")
            print(f"| {metric} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=("a", "b"), default="a",
                    help="phantom family: a (skinmetrics.synthetic) or b (synthetic_b)")
    ap.add_argument("--series", type=int, default=5,
                    help="family b: visit series scored for percent change")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--size", default="480x640", help="HxW of each phantom")
    ap.add_argument("--px-per-mm", type=float, default=25.0)
    ap.add_argument("--drift", type=int, default=0, help="visit pairs with capture drift")
    ap.add_argument("--drift-size", default="800x1200", help="HxW of each drift pair photo")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes measuring drift pairs")
    ap.add_argument("--per-pair", action="store_true", help="also print every drift pair")
    args = ap.parse_args()
    if args.family == "b":
        if args.size == "480x640":
            args.size = "600x800"
        main_b(args)
        return
    shape = tuple(int(v) for v in args.size.split("x"))
    drift_shape = tuple(int(v) for v in args.drift_size.split("x"))
    pipes = {n: load_pipeline(n) for n in ("laser_recovery", "acne")}
    if args.seeds:  # the tone table (0: the drift pairs only)
        t0 = time.perf_counter()
        rows = {L: [score(L, 1000 * s + int(L), shape, args.px_per_mm, pipes)
                    for s in range(args.seeds)] for L in TONES}
        elapsed = time.perf_counter() - t0

        print(f"skinmetrics accuracy on phantoms: {date.today()}, {platform.machine()}, "
              f"{args.seeds} seeds x {len(TONES)} tones, {shape[0]}x{shape[1]} px at "
              f"{args.px_per_mm} px/mm ({elapsed:.0f} s)\n")
        dice_cols = ["roi", "erythema", "pigment"]
        err_cols = ["crust_count", "pore_count", "erythema_area", "pigment_area", "crust_area"]
        head = (["skin L*"] + [f"{c} Dice (IoU)" for c in dice_cols]
                + [f"{c} err % mean (worst)" for c in err_cols])
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        everything = [r for per_tone in rows.values() for r in per_tone]
        for L, rs in list(rows.items()) + [("all", everything)]:
            cells = [str(L)]
            for c in dice_cols:
                d = [r[f"{c}_dice"] for r in rs]
                i = [r[f"{c}_iou"] for r in rs]
                cells.append(f"{np.mean(d):.3f} ({np.mean(i):.3f}), min {np.min(d):.3f}")
            for c in err_cols:
                e = np.array([r[f"{c}_err"] for r in rs])
                cells.append(f"{np.nanmean(e):+.1f} ({e[np.nanargmax(np.abs(e))]:+.1f})")
            print("| " + " | ".join(cells) + " |")

    if args.drift:
        t0 = time.perf_counter()
        pairs = [{**a, **c, **n} for a, c, n in zip(
            *(drift_scores(args.drift, drift_shape, args.px_per_mm, chart=chart, drift=drift,
                           jobs=args.jobs)
              for chart, drift in ((False, True), (True, True), (True, False))), strict=True)]
        errors = {key: [p[key] for p in pairs] for key in pairs[0]}
        print(f"\npercent change day 0 -> 28 with capture drift, {args.drift} pairs per "
              f"column, {drift_shape[0]}x{drift_shape[1]} px ({time.perf_counter() - t0:.0f} s):"
              " error in percentage points, mean |error| (worst)\n")
        conds = {"unaligned": "unaligned", "aligned": "registration + colour normalisation",
                 "chart": "chart calibration + registration",
                 "nodrift": "same, follow-up without drift"}
        _drift_table(errors, conds, args.per_pair)
        print("\nthe same aligned pairs against the truth over the skin each compared (the "
              "registered follow-up's skin region): the measurement's own error, without what "
              "leaving out the skin either photo cannot measure changes\n")
        _drift_table(errors, {f"{c} compared": conds[c] for c in ("aligned", "chart", "nodrift")},
                     args.per_pair)


def _drift_table(errors: dict[str, list[float]], conds: dict[str, str], per_pair: bool
                 ) -> None:
    """Print mean |error| (worst) per metric and condition, and with ``per_pair`` every
    pair's errors."""
    print("| metric | " + " | ".join(conds.values()) + " |")
    print("|---" * (len(conds) + 1) + "|")
    for _, metric, _, _ in DRIFT_METRICS:
        cells = []
        for cond in conds:
            e = np.array(errors[f"{cond}|{metric}"])
            undefined = f", {np.isnan(e).sum()} undefined" if np.isnan(e).any() else ""
            cells.append(f"{np.nanmean(np.abs(e)):.1f} ({e[np.nanargmax(np.abs(e))]:+.1f})"
                         + undefined)
        print(f"| {metric} | " + " | ".join(cells) + " |")
    if per_pair:
        keys = [f"{cond}|{metric}" for _, metric, _, _ in DRIFT_METRICS for cond in conds]
        print("\n| pair | skin L* | " + " | ".join(k.replace("|", " ") for k in keys) + " |")
        print("|---" * (len(keys) + 2) + "|")
        n = len(errors[keys[0]])
        for k in range(n):
            print(f"| {k} | {TONES[k % len(TONES)]} | "
                  + " | ".join(f"{errors[key][k]:+.1f}" for key in keys) + " |")


if __name__ == "__main__":
    main()
