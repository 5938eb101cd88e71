"""Score every layer against phantom ground truth, by skin tone; prints a Markdown table.

    python benchmarks/accuracy.py [--seeds 4] [--size 480x640] [--px-per-mm 25]

For each skin tone (CIELAB L* of unaffected skin) and seed a phantom is rendered, written
as JPEG, decoded and measured with both built-in pipelines at the known scale. Reported:
Dice and IoU of the roi, erythema and pigment masks; signed relative error (%) of the
microcrust and pore counts and of the erythema, pigment and microcrust areas (mm2), as
mean and worst case over the seeds.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date

import numpy as np

from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import make_phantom

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--size", default="480x640", help="HxW of each phantom")
    ap.add_argument("--px-per-mm", type=float, default=25.0)
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.size.split("x"))
    pipes = {n: load_pipeline(n) for n in ("laser_recovery", "acne")}
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


if __name__ == "__main__":
    main()
