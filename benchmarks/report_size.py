"""Size and render time of report.html for up to 200 patients x 3 visits; prints a Markdown
table.

    python benchmarks/report_size.py [--patients 1 20 200] [--width 4000] [--jobs 2]

Measuring 600 clinic-size photos would take about half an hour here, so the results folders
are built from one real run of a few photos:

1. three phantom patients (skin L* 72, 54, 35) x day 0, 14, 28, ``--width`` x 3/4 px at
   67 px/mm (a cheek close-up filling a 12 MP frame; skinmetrics.synthetic) are measured by
   ``run_batch`` (laser_recovery pipeline), which writes their full-size overlay.jpg files;
2. for N patients, patient k takes measured patient k mod 3: its photos (hard links) and
   its metrics.json records with every metric multiplied by one factor per patient
   (log-normal, sigma 0.15), so that every patient's numbers differ; patients alternate
   between two arms (``treatment``, ``control``) and every 50th patient's day-14 photo is
   recorded as not measured. The tables are made and written as ``run_batch`` makes them
   (``plan_batch``, ``build_tables``, ``write_csv``); overlay.jpg and masks/ of every photo
   are hard links to the measured ones;
3. ``write_report`` makes report.html of each folder, timed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np

from skinmetrics.batch import PhotoResult, build_tables, plan_batch, run_batch
from skinmetrics.io import write_json
from skinmetrics.report import write_report
from skinmetrics.synthetic import VISIT_COURSE, make_phantom
from skinmetrics.tables import write_csv

PPM = 67.0
TONES = (72.0, 54.0, 35.0)
ARMS = ("treatment", "control")


def phantom(args: tuple) -> None:
    path, shape, tone, seed, day = args
    ph = make_phantom(shape, PPM, tone, seed=seed, capture_seed=day, **VISIT_COURSE[day])
    Path(path).write_bytes(ph.jpeg)


def measure_sources(work: Path, width: int, jobs: int) -> Path:
    """Three patients x day 0, 14, 28 at full size, measured; returns the results folder."""
    visits = work / "source_visits"
    visits.mkdir()
    shape = (width * 3 // 4, width)
    tasks = [(visits / f"S{p + 1}_day{day:02d}.jpg", shape, tone, 1000 + p, day)
             for p, tone in enumerate(TONES) for day in VISIT_COURSE]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(phantom, tasks))
    out = work / "source_results"
    run_batch(visits, out, "laser_recovery", jobs=jobs, px_per_mm=PPM, chart="none")
    return out


def scaled(record, factor: float):
    """A metrics.json record with every metric multiplied by ``factor``."""
    def scale(values: dict) -> dict:
        return {k: (v if v is None else type(v)(round(v * factor) if isinstance(v, int)
                                                else v * factor)) for k, v in values.items()}

    out = dict(record)
    for key in ("metrics", "baseline_metrics"):
        if record.get(key):
            out[key] = scale(record[key])
    for key in ("regions", "baseline_regions"):
        if record.get(key):
            out[key] = {region: scale(values) for region, values in record[key].items()}
    return out


def link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)


def replicate(source: Path, work: Path, patients: int, seed: int = 0) -> Path:
    """A results folder of ``patients`` patients made from the measured source folder."""
    run = json.loads((source / "run.json").read_text())
    by_patient: dict[str, list[dict]] = {}
    for p in run["photos"]:
        by_patient.setdefault(p["patient"], []).append(p)
    sources = sorted(by_patient)
    visits = work / f"visits_{patients}"
    visits.mkdir()
    lines = ["path,patient,visit,day,arm,px_per_mm"]
    origin = {}
    for k in range(patients):
        pid = f"P{k + 1:03d}"
        for p in by_patient[sources[k % len(sources)]]:
            name = f"{pid}_{p['visit']}.jpg"
            link(Path(run["input"]) / p["file"], visits / name)
            lines.append(f"{name},{pid},{p['visit']},{p['day']},{ARMS[k % 2]},{PPM}")
            origin[name] = p
    (visits / "manifest.csv").write_text("\n".join(lines) + "\n")
    plan = plan_batch(visits, "laser_recovery")
    rng = np.random.default_rng(seed)
    factors = {pid: math.exp(rng.normal(0, 0.15)) for pid in plan.visits.patients}
    out = work / f"results_{patients}"
    results, photos = [], []
    for photo in plan.visits.photos:
        src = origin[photo.file]
        failed = photo.visit == "day14" and int(photo.patient[1:]) % 50 == 0
        if failed:
            result = PhotoResult(photo, "error", f"{photo.file}: not a readable JPEG/PNG/TIFF "
                                 "image (benchmark: recorded as not measured)", 0.0, None)
        else:
            record = json.loads((source / "photos" / src["stem"] / "metrics.json").read_text())
            result = PhotoResult(photo, "ok", "", src["seconds"], src["sha256"],
                                 scaled(record, factors[photo.patient]))
            folder = out / "photos" / photo.stem
            (folder / "masks").mkdir(parents=True)
            link(source / "photos" / src["stem"] / "overlay.jpg", folder / "overlay.jpg")
            for mask in (source / "photos" / src["stem"] / "masks").iterdir():
                link(mask, folder / "masks" / mask.name)
            write_json(folder / "metrics.json", result.record)
        results.append(result)
        photos.append({**src, "file": photo.file, "stem": photo.stem, "patient": photo.patient,
                       "arm": photo.arm, "status": result.status, "message": result.message,
                       **({"scale_source": None, "calibration": None, "alignment": None}
                          if failed else {})})
    tables = build_tables(plan, results)
    for name in ("measurements", "change_from_baseline", "summary"):
        write_csv(out / f"{name}.csv", tables[name])
    write_csv(out / "cohort_stats.csv", tables["cohort"])
    for pid, table in tables["patients"].items():
        write_csv(out / "patients" / f"{pid}.csv", table)
    write_json(out / "run.json", {
        **run, "command": [sys.argv[0], "(replicated from the measured source photos)"],
        "input": str(visits), "manifest": str(visits / "manifest.csv"), "output": str(out),
        "photos": photos, "n_photos": len(results),
        "n_measured": sum(r.status == "ok" for r in results),
        "n_failed": sum(r.status != "ok" for r in results),
        "comparisons": [{"patient": c.patient, "baseline_visit": c.baseline_visit,
                         "baseline_day": c.baseline_day,
                         "visits": [{"visit": v, "day": d} for v, d in c.visits]}
                        for c in plan.comparisons],
        "warnings": []})
    return out


def embedded_mb(html: str, kind: str) -> float:
    """MB of the data: URIs of one media type in the page."""
    return sum(len(m) for m in re.findall(rf'data:{re.escape(kind)};base64,[^"]*', html)) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[1, 20, 200])
    ap.add_argument("--width", type=int, default=4000, help="Source photo width, px (4:3).")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        source = measure_sources(work, args.width, args.jobs)
        overlay_mb = np.mean([p.stat().st_size for p in source.glob("photos/*/overlay.jpg")])
        print(f"source: 3 patients x 3 visits, {args.width} x {args.width * 3 // 4} px, "
              f"measured in {time.perf_counter() - t0:.0f} s; full overlay.jpg "
              f"{overlay_mb / 1e6:.1f} MB each")
        print(f"\n{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}\n")
        print("| patients | photos | not measured | report.html (MB) | thumbnails (MB) "
              "| plots (MB) | render (s) |")
        print("|---|---|---|---|---|---|---|")
        for n in args.patients:
            out = replicate(source, work, n)
            t = time.perf_counter()
            report = write_report(out)
            seconds = time.perf_counter() - t
            html = report.read_text(encoding="utf-8")
            run = json.loads((out / "run.json").read_text())
            print(f"| {n} | {run['n_photos']} | {run['n_failed']} | "
                  f"{report.stat().st_size / 1e6:.1f} | {embedded_mb(html, 'image/jpeg'):.1f} | "
                  f"{embedded_mb(html, 'image/svg+xml'):.1f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
