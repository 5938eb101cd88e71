"""Seconds per photo, step by step, beside the decode floor; peak memory; batch scaling.

    python benchmarks/throughput.py [--megapixels 12] [--px-per-mm 25 --px-per-mm 67]
                                    [--repeat 3] [--pipeline laser_recovery] [--batch 30]

For each scale a phantom of the requested size (4:3; at 25 px/mm a 12 MP frame is a
160 x 120 mm field, measured at full resolution; at 67 px/mm a cheek close-up, measured
resampled to the pipeline's ``max_px_per_mm``) is written as JPEG once, with a follow-up
captured 2 % closer, shifted and turned 2 degrees. A fresh process per pipeline and scale,
on one thread, keeping freed large arrays for the next and decoding photos as their 8-bit
codes (:class:`skinmetrics.colour.SRGBCodes`) as the command line does
(:func:`skinmetrics.memory.reuse_freed_memory`), ``--repeat`` times:

* the floor: the same process start and JPEG decode (a separate process that does only that);
* a baseline: decode, :func:`skinmetrics.core.measure` (chart search, face search, skin
  region, every layer) and :func:`skinmetrics.photo.write_outputs` (masks, overlay,
  metrics.json), step by step;
* its follow-up measured with that baseline (held as a batch holds it,
  :meth:`skinmetrics.core.PhotoMeasurement.as_baseline`): the extra steps (registration and colour
  normalisation, the baseline measured over the compared skin); then measured again as a
  further follow-up of the same baseline, whose side of the registration (working images,
  keypoints) the first made;
* a chart correction (a fitted root-polynomial correction applied to the whole photo, as
  :meth:`skinmetrics.correction.Calibration.apply` does: linearise, correct, encode);

and reports the median time of each step and the process's peak resident memory (which
includes the interpreter and libraries). Then, in another fresh process, a batch's worker:
:func:`skinmetrics.batch.measure_group` (what ``skinmetrics run`` gives each worker) for
three patients in turn, each the baseline and its follow-up twice, all written; its peak
memory is reported too. With ``--batch N``, a visit set of N photos
(N/3 patients x day 0, 14, 28; 2 MP at 25 px/mm) is run with ``--jobs 1`` and ``--jobs 2``
and the speed-up printed.
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


def _peak_rss_mib() -> float:
    """Peak resident memory of this process since it started, MiB (VmHWM; unlike ru_maxrss it
    does not include the memory of the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_child(path: str) -> None:
    from skinmetrics.io import decode_image

    decode_image(Path(path).read_bytes())


def child(folder: str, pipeline_name: str, repeat: int, ppm: float) -> None:
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    from skinmetrics.memory import reuse_freed_memory

    reuse_freed_memory()  # as the command line and its worker processes do
    from skinmetrics.core import measure
    from skinmetrics.correction import Calibration, ColourCorrection
    from skinmetrics.io import decode_image
    from skinmetrics.photo import write_outputs
    from skinmetrics.pipeline import load_pipeline

    pipe = load_pipeline(pipeline_name)
    base_data = (Path(folder) / "b.jpg").read_bytes()
    follow_data = (Path(folder) / "f.jpg").read_bytes()
    # a root-polynomial correction as fitted on a chart (any fitted values time the same)
    rng = np.random.default_rng(0)
    cal = Calibration("chart", ColourCorrection("Finlayson 2015",
                                                np.eye(3, 6) + 0.01 * rng.random((3, 6)), 2, 6))
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        run: dict[str, float] = {}
        t0 = time.perf_counter()
        srgb = decode_image(base_data, as_codes=True)[0]
        run["decode JPEG"] = time.perf_counter() - t0
        base = measure(srgb, pipe, px_per_mm=ppm, timings=run)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            write_outputs(base, tmp, pipe, {"file": "b.jpg"})
        run["write masks + overlay + metrics.json"] = time.perf_counter() - t1
        run["total (baseline)"] = time.perf_counter() - t0
        base = base.as_baseline()  # held for its follow-ups as a batch holds it
        extra: dict[str, float] = {}
        follow = decode_image(follow_data, as_codes=True)[0]
        t2 = time.perf_counter()
        followed = measure(follow, pipe, px_per_mm=ppm, baseline=base, timings=extra)
        run["total (follow-up, without decode and write)"] = time.perf_counter() - t2
        run["follow-up: first skin region (to register on)"] = extra["follow-up skin region"]
        run["follow-up: registration"] = followed.alignment.registration.seconds
        run["follow-up: colour normalisation and warps"] = (
            extra["align"] - followed.alignment.registration.seconds)
        run["follow-up: baseline over the compared skin"] = extra[
            "baseline over the compared skin"]
        del followed  # a further follow-up: one follow-up held at a time, as in a batch
        t4 = time.perf_counter()
        again = measure(follow, pipe, px_per_mm=ppm, baseline=base)
        run["total (a further follow-up of the same baseline)"] = time.perf_counter() - t4
        run["further follow-up: registration (the baseline's side kept)"] = (
            again.alignment.registration.seconds)
        del again
        t3 = time.perf_counter()
        cal.apply(srgb)
        run["chart correction (linearise, correct, encode)"] = time.perf_counter() - t3
        del base, srgb, follow  # the patient done, as a batch worker drops its photos
        for k, v in run.items():
            times.setdefault(k, []).append(v)
    print(json.dumps({"times": {k: statistics.median(v) for k, v in times.items()},
                      "peak_mib": _peak_rss_mib()}))


def worker_child(folder: str, pipeline_name: str, ppm: float, patients: int = 3) -> None:
    """As a batch's worker process: :func:`skinmetrics.batch.measure_group` for
    ``patients`` patients in turn, each the baseline and two follow-ups, each written; prints
    the process's peak memory."""
    from skinmetrics.batch import _init_worker, measure_group
    from skinmetrics.pipeline import load_pipeline

    _init_worker()
    pipe = load_pipeline(pipeline_name)
    items = [{"path": str(Path(folder, name)), "stem": f"v{k}", "px_per_mm": ppm,
              "px_per_mm_source": "flag", "view": None, "write": True, "fingerprints": ({}, {})}
             for k, name in enumerate(("b.jpg", "f.jpg", "f.jpg"))]
    with tempfile.TemporaryDirectory() as out:
        for p in range(patients):
            outcomes = measure_group(items, str(Path(out, f"p{p}")), pipe, chart="none")
            failed = [o["message"] for o in outcomes if o["status"] != "ok"]
            if failed:
                raise RuntimeError(failed[0])
    print(json.dumps({"worker_peak_mib": _peak_rss_mib()}))


def _wall(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], check=True, capture_output=True,
                         text=True).stdout
    return time.perf_counter() - t0, out


def batch_scaling(n: int) -> tuple[float, float]:
    """Wall seconds of ``skinmetrics run`` on an n-photo visit set with 1 and 2 jobs."""
    from skinmetrics.synthetic import write_visit_set

    with tempfile.TemporaryDirectory() as tmp:
        visits = Path(tmp) / "visits"
        write_visit_set(visits, patients=max(1, n // 3), shape=(1200, 1600), px_per_mm=25.0)
        walls = []
        for jobs in (1, 2):
            walls.append(_wall(["-c", "from skinmetrics.cli import app; app()", "run",
                                str(visits), "--out",
                                str(Path(tmp) / f"j{jobs}"), "--px-per-mm", "25",
                                "--jobs", str(jobs), "--quiet", "--chart", "none"])[0])
    return walls[0], walls[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--px-per-mm", type=float, action="append")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pipeline", action="append", help="default: both built-in pipelines")
    ap.add_argument("--batch", type=int, default=0, help="photos in the jobs 1 / 2 batch")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--floor", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.floor:
        floor_child(args.floor)
        return
    if args.child:
        child(args.child[0], args.child[1], args.repeat, float(args.child[2]))
        return
    if args.worker:
        worker_child(args.worker[0], args.worker[1], float(args.worker[2]))
        return

    from skinmetrics.synthetic import make_phantom

    w = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    pipelines = args.pipeline or ["laser_recovery", "acne"]
    print(f"skinmetrics throughput: {date.today()}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}, Python {platform.python_version()}, one thread; "
          f"{w}x{h} px ({w * h / 1e6:.1f} MP) phantom JPEGs; median of {args.repeat} runs\n")
    for ppm in args.px_per_mm or [25.0, 67.0]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            kw = dict(seed=3, jpeg_quality=92)
            Path(tmp, "b.jpg").write_bytes(
                make_phantom((h, w), ppm, 55.0, capture_seed=0, camera=(0, 0, 0, 1), **kw).jpeg)
            Path(tmp, "f.jpg").write_bytes(
                make_phantom((h, w), ppm, 55.0, capture_seed=1, camera=(0.02, -0.015, 2.0, 1.02),
                             **kw).jpeg)
            gen = time.perf_counter() - t0
            floor = statistics.median(_wall([__file__, "--floor", str(Path(tmp, "b.jpg"))])[0]
                                      for _ in range(args.repeat))
            results = {}
            for name in pipelines:
                out = _wall([__file__, "--repeat", str(args.repeat), "--child", tmp, name,
                             str(ppm)])[1]
                results[name] = json.loads(out.strip().splitlines()[-1])
                out = _wall([__file__, "--worker", tmp, name, str(ppm)])[1]
                results[name].update(json.loads(out.strip().splitlines()[-1]))
        print(f"### {ppm:g} px/mm ({w / ppm:.0f} x {h / ppm:.0f} mm; phantoms made in "
              f"{gen:.0f} s)\n")
        steps = []
        for r in results.values():
            steps += [s for s in r["times"] if s not in steps]
        print("| step | " + " | ".join(f"{n} (s)" for n in results) + " |")
        print("|---|" + "---|" * len(results))
        print("| floor: process start + decode | " + " | ".join(f"{floor:.2f}" for _ in results)
              + " |")
        for s in steps:
            cells = [f"{r['times'][s]:.2f}" if s in r["times"] else "-" for r in results.values()]
            label = f"**{s}**" if s.startswith("total") else s
            print(f"| {label} | " + " | ".join(cells) + " |")
        print("| peak memory (MiB) | " + " | ".join(f"{r['peak_mib']:.0f}"
                                                  for r in results.values()) + " |")
        print("| peak memory of a batch worker, 3 patients x 3 visits (MiB) | "
              + " | ".join(f"{r['worker_peak_mib']:.0f}" for r in results.values()) + " |\n")
    if args.batch:
        one, two = batch_scaling(args.batch)
        print(f"batch of {args.batch} photos (2 MP, laser_recovery, `skinmetrics run`): "
              f"--jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s, speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
