"""Seconds per photo for each stage and in total, and peak memory; prints a Markdown table.

    python benchmarks/throughput.py [--megapixels 12] [--repeat 3] [--pipeline laser_recovery]

A phantom of the requested size (4:3, 67 px/mm: a cheek close-up filling a 12 MP frame) is
written as JPEG once; then a fresh process per pipeline decodes and measures it
(``measure_image``, which resamples photos finer than the pipeline's ``max_px_per_mm``)
``--repeat`` times on one thread and reports the median time of each step and the
process's peak resident memory (which includes the Python interpreter and libraries).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def child(path: str, pipeline_name: str, repeat: int, ppm: float) -> None:
    import cv2

    cv2.setNumThreads(1)
    from skinmetrics.chart import calibrate
    from skinmetrics.io import decode_image, write_jpeg, write_png
    from skinmetrics.overlay import outline_overlay
    from skinmetrics.pipeline import load_pipeline, measure_image
    from skinmetrics.register import register

    pipe = load_pipeline(pipeline_name)
    data = Path(path).read_bytes()
    photo = decode_image(data)[0]
    h, w = photo.shape[:2]
    shifted = cv2.getRotationMatrix2D((w / 2 + 60, h / 2 - 40), 2.0, 1.02)
    followup = cv2.warpAffine(photo, shifted, (w, h), borderMode=cv2.BORDER_REFLECT)
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        run: dict[str, float] = {}
        t0 = time.perf_counter()
        srgb = decode_image(data)[0]
        run["decode JPEG"] = time.perf_counter() - t0
        t_cal = time.perf_counter()
        calibrate(srgb, "auto")
        run["chart search (none in frame)"] = time.perf_counter() - t_cal
        result = measure_image(srgb, pipe, ppm, timings=run)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            for name, mask in result.masks.items():
                write_png(Path(tmp) / f"{name}.png", mask)
            write_jpeg(Path(tmp) / "overlay.jpg", outline_overlay(srgb, result.masks))
        run["write masks + overlay"] = time.perf_counter() - t1
        run["total"] = time.perf_counter() - t0
        t_reg = time.perf_counter()
        register(srgb, followup)
        run["registration to a baseline (extra, follow-ups)"] = time.perf_counter() - t_reg
        for k, v in run.items():
            times.setdefault(k, []).append(v)
    peak_mb = _peak_rss_mb()
    print(json.dumps({"times": {k: statistics.median(v) for k, v in times.items()},
                      "peak_mb": peak_mb}))


def _peak_rss_mb() -> float:
    """Peak resident memory of this process since it started (VmHWM; unlike ru_maxrss it
    does not include the memory of the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pipeline", action="append", help="default: both built-in pipelines")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.repeat, float(args.child[2]))
        return

    from skinmetrics.synthetic import make_phantom

    w = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    ppm = 67.0
    pipelines = args.pipeline or ["laser_recovery", "acne"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "phantom.jpg"
        t0 = time.perf_counter()
        path.write_bytes(make_phantom((h, w), ppm, 55.0, seed=3, jpeg_quality=92).jpeg)
        gen = time.perf_counter() - t0
        results = {}
        for name in pipelines:
            out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                                  "--child", str(path), name, str(ppm)],
                                 check=True, capture_output=True, text=True).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])

    print(f"skinmetrics throughput: {date.today()}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}, Python {platform.python_version()}, one thread; "
          f"{w}x{h} px ({w * h / 1e6:.1f} MP) phantom JPEG at {ppm} px/mm "
          f"(generated in {gen:.0f} s); median of {args.repeat} runs\n")
    steps = []
    for r in results.values():
        steps += [s for s in r["times"] if s not in steps and s != "total"]
    print("| step | " + " | ".join(f"{n} (s)" for n in results) + " |")
    print("|---|" + "---|" * len(results))
    for s in steps + ["total"]:
        cells = [f"{r['times'][s]:.2f}" if s in r["times"] else "-" for r in results.values()]
        label = f"**{s}**" if s == "total" else s
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| peak memory (MB) | " + " | ".join(f"{r['peak_mb']:.0f}" for r in results.values())
          + " |")


if __name__ == "__main__":
    main()
