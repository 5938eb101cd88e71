"""Batch runs over a visit folder: find the visits, measure every photo (in parallel
processes), build the result tables and write them.

Layout written into the output folder::

    photos/<stem>/metrics.json, masks/*.png, overlay.jpg   (skinmetrics.photo.write_outputs)
    measurements.csv          one row per photo, region and metric
    photos.csv                one row per photo: scale, calibration, registration, warnings
    change_from_baseline.csv  one row per patient, view, region, metric and compared visit
    patients/<patient>.csv    one wide table per patient
    summary.csv               one row per view, region, arm, metric and follow-up visit
    cohort_stats.csv          per arm, region, metric and follow-up visit; split-face pairs
    run.json                  provenance: versions, pipeline, command, photos, timing
    report.html               everything above for a person (skinmetrics.report)

(columns in :mod:`skinmetrics.tables`). Every file is written atomically; report.html last,
from the files written (a report that fails is a warning: the tables stay). A photo that cannot
be measured (corrupt, truncated, empty, not an image, or any unexpected error) is reported with
status ``error`` and a one-line message and never stops the batch. Problems with the request
itself (missing folder, no photos, invalid pipeline or manifest, no baseline, an output folder
that is not empty and holds no skinmetrics results, without ``overwrite``) raise
:class:`BatchError` before anything is written. A run into an earlier run's folder reuses
each photo measured from the same inputs and measures the rest (it resumes a killed run).

Usable from Python::

    from skinmetrics.batch import run_batch
    result = run_batch("visits", "results", "laser_recovery", jobs=2, px_per_mm=20)
    result.tables["summary"]
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean

from . import __version__
from .io import ImageReadError, read_file_bytes, real_path, write_json
from .pipeline import Pipeline, PipelineError, load_pipeline
from .report import REPORT_FILE, methods, write_report
from .tables import (
    DEFAULT_REGION,
    change_table,
    cohort_table,
    measurements_table,
    patient_table,
    photos_table,
    summary_table,
    write_csv,
)
from .visits import (
    REGION_SIDES,
    Comparison,
    Photo,
    VisitError,
    VisitSet,
    discover,
    format_day,
    plan_comparisons,
    region_arm,
)

__all__ = [
    "BatchError",
    "BatchPlan",
    "PhotoResult",
    "BatchResult",
    "plan_batch",
    "describe_plan",
    "measure_group",
    "measure_all",
    "build_tables",
    "run_batch",
    "library_versions",
    "ProgressBar",
]

OUTPUT_FILES = ("measurements.csv", "photos.csv", "change_from_baseline.csv", "summary.csv",
                "cohort_stats.csv", "run.json", REPORT_FILE)
#: In each photo's folder: what it was measured from (see :func:`_fingerprint`), written
#: once its metrics.json is; a later run into the same folder reuses it when they match.
INPUTS_FILE = "inputs.json"
_PHOTO_OUTPUTS = {"metrics.json", "masks", "overlay.jpg", INPUTS_FILE}


class BatchError(ValueError):
    """The batch cannot run as asked (a usage error; one-line message)."""


@dataclass
class BatchPlan:
    """What a batch will do, decided before anything is measured.

    Attributes
    ----------
    visits : VisitSet
        The photos found (and the image files not used).
    pipeline : Pipeline
    comparisons : list of Comparison
        Baseline and compared follow-up visits per patient.
    px_per_mm : float or None
        Scale for photos without one in the manifest.
    warnings : list of str
    """

    visits: VisitSet
    pipeline: Pipeline
    comparisons: list[Comparison]
    px_per_mm: float | None = None
    warnings: list[str] = field(default_factory=list)

    def scale(self, photo: Photo) -> float | None:
        """A photo's px_per_mm: the manifest's, else the batch's, else None."""
        return photo.px_per_mm if photo.px_per_mm is not None else self.px_per_mm


@dataclass
class PhotoResult:
    """Outcome of measuring one photo.

    Attributes
    ----------
    photo : Photo
    status : str
        ``"ok"`` or ``"error"``.
    message : str
        One-line reason of an error, else ``""``.
    seconds : float
        Time spent on the photo.
    sha256 : str or None
        Of the file (None when it cannot be read).
    record : dict or None
        The photo's metrics.json content when measured.
    reused : bool
        Taken from an earlier run into the same folder (same inputs), not measured again.
    """

    photo: Photo
    status: str
    message: str
    seconds: float
    sha256: str | None
    record: dict | None = None
    reused: bool = False


@dataclass
class BatchResult:
    """A finished batch.

    Attributes
    ----------
    plan : BatchPlan
    out : Path
        The output folder.
    results : list of PhotoResult
        In the order of ``plan.visits.photos``.
    tables : dict of str -> DataFrame
        ``measurements``, ``change_from_baseline``, ``summary``, ``cohort`` and ``patients``
        ({patient: wide table}).
    warnings : list of str
    start_time, end_time : str
        ISO 8601, UTC.
    """

    plan: BatchPlan
    out: Path
    results: list[PhotoResult]
    tables: dict
    warnings: list[str]
    start_time: str
    end_time: str

    @property
    def failed(self) -> list[PhotoResult]:
        """The photos that could not be measured."""
        return [r for r in self.results if r.status != "ok"]

    @property
    def exit_code(self) -> int:
        """0 when every photo was measured, 1 when some failed."""
        return 1 if self.failed else 0


def _one_line(text: str, limit: int = 300) -> str:
    """First non-empty line of a text, whitespace collapsed, at most ``limit`` characters."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    line = next((s for s in lines if s), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def plan_batch(folder: str | os.PathLike, pipeline: str | os.PathLike | Pipeline = "laser_recovery",
               *, baseline: str | None = None, compare: str | None = None,
               px_per_mm: float | None = None,
               exclude: Sequence[str | os.PathLike] = (), strict: bool = False) -> BatchPlan:
    """Find the photos and decide the comparisons, without measuring or writing anything.

    Parameters
    ----------
    folder : path-like
        Visit folder (see :mod:`skinmetrics.visits`).
    pipeline : str, path-like or Pipeline
        Built-in pipeline name, pipeline file, or a loaded pipeline.
    baseline, compare : str, optional
        Baseline visit and the one compared visit (see
        :func:`skinmetrics.visits.plan_comparisons`).
    px_per_mm : float, optional
        Scale of photos that have none in the manifest.
    exclude : sequence of path-like
        Folders not to look into (an output folder inside the visit folder).
    strict : bool
        Manifest lines and photos that cannot be resolved are errors (default: left out,
        each with a warning; see :func:`skinmetrics.visits.discover`).

    Returns
    -------
    BatchPlan

    Raises
    ------
    BatchError
        Missing or empty folder, invalid manifest or pipeline, duplicate photos, unknown
        visit, no patient with a baseline.
    """
    if px_per_mm is not None and not px_per_mm > 0:
        raise BatchError(f"px_per_mm must be positive (got {px_per_mm})")
    try:
        visits = discover(folder, exclude=exclude, strict=strict)
    except VisitError as exc:
        raise BatchError(str(exc)) from exc
    try:
        pipe = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)
    except PipelineError as exc:
        raise BatchError(str(exc)) from exc
    if not visits.photos:
        detail = ""
        if visits.unparseable:
            name, reason = visits.unparseable[0]
            detail = (f" ({len(visits.unparseable)} image file(s) not used, e.g. "
                      f"{name}: {reason})")
        raise BatchError(f"no photos found in '{visits.root}'{detail}")
    try:
        comparisons, warnings = plan_comparisons(visits.photos, baseline, compare)
    except VisitError as exc:
        raise BatchError(str(exc)) from exc
    warnings = visits.warnings + warnings
    if visits.unparseable:
        warnings.append(f"{len(visits.unparseable)} image file(s) not used: "
                        + "; ".join(f"{n}: {r}" for n, r in visits.unparseable))
    return BatchPlan(visits, pipe, comparisons, px_per_mm, warnings)


def describe_plan(plan: BatchPlan) -> str:
    """Text listing of a plan: the photos found, the comparisons, unused files, warnings."""
    v = plan.visits
    source = f"from {v.manifest.name}" if v.manifest else "from file names"
    lines = [f"{len(v.photos)} photo(s) of {len(v.patients)} patient(s) in {v.root} ({source});"
             f" pipeline {plan.pipeline.name}"]
    header = ("patient", "visit", "day", "view", "arm", "px_per_mm", "file")
    rows = [(p.patient, p.visit, format_day(p.day), p.view or "-", p.arm or "-",
             "-" if plan.scale(p) is None else f"{plan.scale(p):g}", p.file) for p in v.photos]
    show = [i for i, h in enumerate(header) if h != "arm" or any(p.arm for p in v.photos)]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        lines.append("  " + "  ".join(str(r[i]).ljust(widths[i]) for i in show).rstrip())
    lines.append("comparisons (baseline -> compared visits):")
    for c in plan.comparisons:
        follow = ", ".join(f"{label} (day {format_day(day)})" for label, day in c.visits)
        lines.append(f"  {c.patient}: {c.baseline_visit} (day {format_day(c.baseline_day)}) -> "
                     f"{follow or 'nothing to compare'}")
    if v.unparseable:
        lines.append(f"unparseable or unused image files ({len(v.unparseable)}):")
        lines += [f"  {name}: {reason}" for name, reason in v.unparseable]
    else:
        lines.append("unparseable or unused image files: none")
    other = [w for w in plan.warnings if "image file(s) not used" not in w]
    if other:
        lines.append("warnings:")
        lines += [f"  {w}" for w in other]
    return "\n".join(lines)


def _file_sha256(path: str | os.PathLike) -> str | None:
    """The file's SHA-256, None when it is not a readable regular file."""
    try:
        return hashlib.sha256(read_file_bytes(path)).hexdigest()
    except ImageReadError:
        return None


def _outcome(status: str, message: str, t0: float, sha256: str | None,
             record: dict | None) -> dict:
    return {"status": status, "message": message, "seconds": time.perf_counter() - t0,
            "sha256": sha256, "record": record}


def measure_group(items: Sequence[Mapping], out_dir: str, pipeline: Pipeline, chart: str = "auto",
                  register: bool = True,
                  report: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Measure a baseline photo and its follow-ups (or one photo), never raising: the worker
    of :func:`measure_all`. The baseline is measured once, in memory, and each follow-up is
    aligned to it (:func:`skinmetrics.core.measure`); a follow-up whose baseline failed is
    measured unaligned. Each photo's outputs are complete, with their ``inputs.json``, as
    soon as it is measured: a run stopped within a group keeps the photos done.

    Parameters
    ----------
    items : sequence of mapping
        The photos, the baseline first when there are several: ``path``, ``stem`` (output
        folder name), ``px_per_mm``, ``px_per_mm_source``, ``view``, ``write`` (False: a
        baseline measured earlier, measured again in memory only for its follow-ups) and
        ``fingerprints``: what it is measured from (written to ``inputs.json``), aligned to
        the baseline and, for a follow-up, unaligned (its baseline failed).
    out_dir : str
        Parent of the photos' output folders (``<out_dir>/<stem>/``).
    pipeline : Pipeline
    chart, register :
        As :func:`skinmetrics.photo.measure_photo`'s.
    report : callable, optional
        Called as ``report(n, outcome)`` after the n-th written photo.

    Returns
    -------
    list of dict
        Per item written (``write``), in order: ``status`` (``"ok"`` / ``"error"``),
        ``message`` (one line), ``seconds``, ``sha256`` and ``record`` (the metrics.json
        content, None on error). On error the photo's output folder is removed (nothing
        half-written remains).
    """
    from .photo import measure_file, write_outputs

    outcomes: list[dict] = []
    baseline = None
    for k, item in enumerate(items):
        t0 = time.perf_counter()
        path = Path(item["path"])
        folder = Path(out_dir) / item["stem"]
        measurement = None  # the previous photo's not held while this one is measured
        try:
            measurement, photo = measure_file(
                path, pipeline, item["px_per_mm"], px_per_mm_source=item["px_per_mm_source"],
                chart=chart, baseline=baseline, register=register, view=item["view"])
            aligned = k == 0 or baseline is not None
            if k == 0:  # held for the follow-ups without its layers' masks
                baseline = measurement.as_baseline()
            if not item["write"]:
                continue
            outcome = _outcome("ok", "", t0, photo["sha256"],
                               write_outputs(measurement, folder, pipeline, photo))
            write_json(folder / INPUTS_FILE, {"fingerprint": item["fingerprints"][not aligned]})
        except Exception as exc:  # one bad photo never stops a batch
            if not item["write"]:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            outcome = _outcome("error", _one_line(
                str(exc) if isinstance(exc, ImageReadError)
                else f"{path.name}: {type(exc).__name__}: {exc}"), t0, _file_sha256(path), None)
        outcomes.append(outcome)
        if report is not None:
            report(len(outcomes) - 1, outcome)
    return outcomes


def _init_worker() -> None:
    """One OpenCV thread per worker process (the processes are the parallelism), which
    keeps freed large arrays for the next (:func:`skinmetrics.memory.reuse_freed_memory`)."""
    import cv2

    from .memory import reuse_freed_memory

    cv2.setNumThreads(1)
    reuse_freed_memory()


def _run_pool(tasks: dict[int, tuple], jobs: int,
              done: Callable[[int, list[dict]], None]) -> list[int]:
    """Run :func:`measure_group` tasks in a spawn process pool; returns the keys of the
    tasks lost to a crashed worker."""
    ctx = multiprocessing.get_context("spawn")
    lost: list[int] = []
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker)
    try:
        futures: dict[Future, int] = {pool.submit(measure_group, *args): key
                                      for key, args in tasks.items()}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=futures.__getitem__):
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    lost.append(futures[fut])
                    continue
                done(futures[fut], outcomes)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return sorted(lost)


#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT_S = 20


def connect(scheduler: str):
    """A client of the Dask distributed scheduler at ``scheduler`` (``tcp://host:8786``).

    Raises
    ------
    BatchError
        distributed is not installed (the ``dask`` extra), or no scheduler answers there.
    """
    try:
        from distributed import Client
        from distributed.comm.addressing import get_address_host_port, parse_address
    except ImportError:
        raise BatchError("--scheduler needs Dask distributed: pip install "
                         "'skinmetrics[dask]'") from None
    try:
        if parse_address(scheduler)[0] == "tcp":  # nothing listening: say so at once
            socket.create_connection(get_address_host_port(scheduler),
                                     timeout=CONNECT_TIMEOUT_S).close()
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(_one_line(f"no Dask scheduler at '{scheduler}' ({exc})")) from None


def _run_cluster(tasks: dict[int, tuple], client, done: Callable[[int, list[dict]], None]
                 ) -> list[int]:
    """Run :func:`measure_group` tasks on a Dask cluster (``client``: a
    ``distributed.Client``); returns the keys of the tasks that no worker could finish (the
    scheduler retries a task whose worker died, then gives up)."""
    from distributed import as_completed

    futures = {client.submit(measure_group, *args, pure=False): key
               for key, args in tasks.items()}
    lost = []
    for fut in as_completed(futures):
        try:
            outcomes = fut.result()
        except Exception:  # KilledWorker, or a worker that lost the task
            lost.append(futures[fut])
            continue
        done(futures[fut], outcomes)
    return sorted(lost)


def _baselines(plan: BatchPlan) -> dict[int, int]:
    """Index of each follow-up photo -> index of its baseline photo (same patient and view)."""
    photos = plan.visits.photos
    base_day = {c.patient: c.baseline_day for c in plan.comparisons}
    followed = {(c.patient, day) for c in plan.comparisons for _, day in c.visits}
    by_key = {(p.patient, p.view, p.day): i for i, p in enumerate(photos)}
    out = {}
    for i, p in enumerate(photos):
        if (p.patient, p.day) in followed:
            j = by_key.get((p.patient, p.view, base_day[p.patient]))
            if j is not None:
                out[i] = j
    return out


def measure_all(plan: BatchPlan, photos_dir: str | os.PathLike, jobs: int | None = None,
                progress: Callable[[int, int, PhotoResult], None] | None = None, *,
                chart: str = "auto", register: bool = True, client=None) -> list[PhotoResult]:
    """Measure every photo of a plan into ``photos_dir/<stem>/``.

    Each baseline photo is measured once, with its follow-ups (same patient and view) in
    the same process, each aligned to it (see :func:`measure_group`); photos compared with
    nothing are measured alone. A photo measured earlier from the same inputs (its
    ``inputs.json`` fingerprint) is reused.

    Parameters
    ----------
    plan : BatchPlan
    photos_dir : path-like
    jobs : int, optional
        Worker processes (default ``os.cpu_count()``); 1 measures in this process. Results
        do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total, result)`` after each photo.
    chart : str
        ``auto``, ``none`` or a corners JSON file (see :func:`skinmetrics.correction.calibrate`).
    register : bool
        Align follow-ups to their baseline.
    client : distributed.Client, optional
        Measure on this Dask cluster (see :func:`connect`) instead of local processes
        (``jobs`` is then unused); every worker must see the photos and ``photos_dir`` at
        the same paths. The results are the same.

    Returns
    -------
    list of PhotoResult
        In the order of ``plan.visits.photos``.
    """
    photos = plan.visits.photos
    baseline_of = _baselines(plan)
    results: dict[int, PhotoResult] = {}
    prints: dict[int, str] = {}
    groups: dict[int, list[int]] = {i: [i] for i in range(len(photos)) if i not in baseline_of}
    for i, j in baseline_of.items():
        groups[j].append(i)

    shas: dict[int, str | None] = {}

    def fingerprint(i: int, base_ok: bool = True) -> str:
        p, j = photos[i], baseline_of.get(i)
        base = None if j is None else (prints[j] if base_ok else "failed")
        if i not in shas:
            shas[i] = _file_sha256(p.path)
        return _fingerprint(shas[i], plan.pipeline, plan.scale(p), chart, register, p.view,
                            base)

    def item(i: int, write: bool, base_failed: bool = False) -> dict:
        p = photos[i]
        unaligned = fingerprint(i, base_ok=False)
        return {"path": str(p.path), "stem": p.stem, "px_per_mm": plan.scale(p),
                "px_per_mm_source": "manifest" if p.px_per_mm is not None else "flag",
                "view": p.view, "write": write,
                "fingerprints": (unaligned if base_failed else fingerprint(i), unaligned)}

    def record(i: int, outcome: dict) -> None:
        results[i] = PhotoResult(photos[i], outcome["status"], outcome["message"],
                                 outcome["seconds"], outcome["sha256"], outcome["record"],
                                 outcome.get("reused", False))
        if progress is not None:
            progress(len(results), len(photos), results[i])

    def reuse(i: int) -> bool:
        base = baseline_of.get(i)
        prints[i] = fingerprint(i, base is None or results[base].status == "ok")
        earlier = _earlier(Path(photos_dir) / photos[i].stem, prints[i])
        if earlier is not None:
            record(i, {"status": "ok", "message": "", "seconds": 0.0, "reused": True,
                       "sha256": earlier["photo"]["sha256"], "record": earlier})
        return earlier is not None

    measured: dict[int, list[int]] = {}  # group key -> the photos its task writes
    tasks: dict[int, tuple] = {}
    for key, members in groups.items():
        base, follow = members[0], members[1:]
        base_reused = reuse(base)
        todo = [i for i in follow if not reuse(i)] if base_reused else follow
        if base_reused and not todo:
            continue
        measured[key] = ([] if base_reused else [base]) + todo
        items = [item(base, not base_reused)] + [item(i, True) for i in todo]
        tasks[key] = (items, str(photos_dir), plan.pipeline, chart, register)

    def done(key: int, outcomes: list[dict]) -> None:
        for i, outcome in zip(measured[key], outcomes, strict=True):
            record(i, outcome)

    def crashed(i: int) -> None:
        record(i, {"status": "error", "message": f"{photos[i].path.name}: the measuring "
                   "process crashed", "seconds": 0.0, "sha256": _file_sha256(photos[i].path),
                   "record": None})

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    if client is not None:
        for key in _run_cluster(tasks, client, done):
            for i in measured[key]:
                crashed(i)
    elif jobs == 1:  # each photo reported as it is done
        for key, args in tasks.items():
            measure_group(*args, report=lambda n, outcome, key=key: record(measured[key][n],
                                                                          outcome))
    else:  # the largest groups first: the workers finish together
        order = sorted(tasks, key=lambda k: -len(measured[k]))
        for key in _run_pool({k: tasks[k] for k in order}, jobs, done):
            # a worker crashed: retry each photo alone (a follow-up with its baseline, in
            # memory, unless the baseline itself crashed) to find the culprit
            base = groups[key][0]
            for i in measured[key]:
                base_ok = base in results and results[base].status == "ok"
                alone = [item(i, True, base_failed=i != base and not base_ok)]
                if i != base and base_ok:
                    alone.insert(0, item(base, False))
                measured[-1 - i] = [i]
                if _run_pool({-1 - i: (alone, *tasks[key][1:])}, 1, done):
                    crashed(i)
    return [results[i] for i in range(len(photos))]


def _fingerprint(sha256: str | None, pipeline: Pipeline, px_per_mm: float | None, chart: str,
                 register: bool, view: str, baseline: str | None) -> str:
    """What a photo's measurement depends on, as one SHA-256: its file, the skinmetrics
    version, the pipeline with all its parameters, the scale, the options and (a follow-up)
    its baseline's own fingerprint."""
    key = {"skinmetrics": __version__, "sha256": sha256, "pipeline": pipeline.as_dict(),
           "px_per_mm": px_per_mm, "chart": chart, "register": register, "view": view,
           "baseline": baseline}
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _earlier(folder: Path, fingerprint: str) -> dict | None:
    """The metrics.json of an earlier measurement in ``folder`` made from the same inputs,
    else None."""
    try:
        same = json.loads((folder / INPUTS_FILE).read_text())["fingerprint"] == fingerprint
        return json.loads((folder / "metrics.json").read_text()) if same else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_tables(plan: BatchPlan, results: Sequence[PhotoResult]) -> dict:
    """The result tables of a batch (see :mod:`skinmetrics.tables`).

    Returns
    -------
    dict
        ``measurements``, ``photos``, ``change_from_baseline``, ``summary``, ``cohort``
        (DataFrames) and ``patients`` ({patient id: wide DataFrame}, every patient of the
        visit set).

    Notes
    -----
    A photo's record (metrics.json) may hold ``regions`` ({region: {metric: value}}) and
    ``baseline_regions`` (the paired baseline per region); without them the photo has the one
    region ``whole`` with ``metrics`` and ``baseline_metrics``.
    """
    records = []
    paired = {}
    for r in results:
        p = r.photo
        rec = r.record or {}
        records.append({"patient": p.patient, "visit": p.visit, "day": p.day, "view": p.view,
                        "arm": p.arm, "photo": p.file, "status": r.status,
                        "message": r.message, "metrics": rec.get("metrics") or {},
                        "regions": rec.get("regions"), "units": rec.get("units") or {},
                        "region_arms": {n: region_arm(p, n) for n in REGION_SIDES},
                        "record": r.record})
        base_regions = rec.get("baseline_regions") or (
            {DEFAULT_REGION: rec["baseline_metrics"]} if rec.get("baseline_metrics") else {})
        paired.update({(p.patient, p.day, p.view, region, metric): value
                       for region, values in base_regions.items()
                       for metric, value in (values or {}).items()})
    measurements = measurements_table(records)
    changes = change_table(measurements, plan.comparisons, paired)
    by_patient = {c.patient: c for c in plan.comparisons}
    labels = {m.name: m.label for layer in methods() for m in layer.metrics}
    patients = {pid: patient_table(measurements, pid, by_patient.get(pid), paired, labels)
                for pid in plan.visits.patients}
    return {"measurements": measurements, "photos": photos_table(records),
            "change_from_baseline": changes, "summary": summary_table(changes),
            "cohort": cohort_table(changes), "patients": patients}


def library_versions() -> dict[str, str]:
    """Versions of Python, skinmetrics and the libraries that shape the measurements."""
    import cv2

    versions = {"skinmetrics": __version__, "python": platform.python_version()}
    for key, dist in (("numpy", "numpy"), ("scikit-image", "scikit-image"), ("scipy", "scipy"),
                      ("pandas", "pandas"), ("colour-science", "colour-science"),
                      ("pillow", "pillow")):
        try:
            versions[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[key] = "unknown"
    versions["opencv"] = cv2.__version__
    versions["platform"] = platform.platform()
    return versions


def _check_out(out: Path, overwrite: bool, photos: Sequence[Photo]) -> None:
    if out.exists() and not out.is_dir():
        raise BatchError(f"output '{out}' exists and is not a folder")
    resolved = real_path(out)
    for p in photos:
        if resolved in real_path(p.path).parents:
            raise BatchError(f"output folder '{out}' holds input photo {p.file}; choose "
                             "another --out")
    earlier_run = (out / "run.json").is_file() or (out / "photos").is_dir()
    if out.is_dir() and any(out.iterdir()) and not overwrite and not earlier_run:
        raise BatchError(f"output folder '{out}' is not empty and holds no skinmetrics "
                         "results (use --overwrite to write into it anyway)")


def _clear_previous(out: Path, photos: bool) -> None:
    """Remove the tables, run.json and report an earlier run wrote (they are rebuilt),
    and with ``photos`` its photo folders; nothing else. The tables go first, so that a run
    killed while measuring never leaves an earlier run's tables beside its photos."""
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    patients = out / "patients"
    if patients.is_dir():
        for f in patients.glob("*.csv"):
            f.unlink()
    if not photos:
        return
    photos_dir = out / "photos"
    if photos_dir.is_dir():
        for d in photos_dir.iterdir():
            names = {c.name for c in d.iterdir()} if d.is_dir() else None
            if names is not None and all(n in _PHOTO_OUTPUTS or n.startswith(".")
                                         for n in names):
                shutil.rmtree(d)


def _run_record(plan: BatchPlan, out: Path, results: Sequence[PhotoResult], warnings: list[str],
                start: str, end: str, jobs: int, argv: Sequence[str] | None,
                options: dict) -> dict:
    v = plan.visits
    return {
        "skinmetrics_version": __version__,
        "versions": library_versions(),
        "command": list(sys.argv if argv is None else argv),
        "start_time": start,
        "end_time": end,
        "input": str(real_path(v.root)),
        "manifest": str(v.manifest) if v.manifest else None,
        "output": str(real_path(out)),
        "options": {**options, "jobs": jobs},
        "pipeline": plan.pipeline.as_dict(),
        "n_photos": len(results),
        "n_measured": sum(r.status == "ok" for r in results),
        "n_failed": sum(r.status != "ok" for r in results),
        "photos": [{"file": r.photo.file, "stem": r.photo.stem, "patient": r.photo.patient,
                    "visit": r.photo.visit, "day": r.photo.day, "view": r.photo.view,
                    "arm": r.photo.arm, "px_per_mm": plan.scale(r.photo), "sha256": r.sha256,
                    "status": r.status, "message": r.message,
                    "seconds": round(r.seconds, 3),
                    **{k: (r.record or {}).get(k) for k in ("scale_source", "calibration",
                                                           "alignment", "estimates",
                                                           "estimates_source")}}
                   for r in results],
        "comparisons": [{"patient": c.patient, "baseline_visit": c.baseline_visit,
                         "baseline_day": c.baseline_day,
                         "visits": [{"visit": label, "day": day} for label, day in c.visits]}
                        for c in plan.comparisons],
        "unparseable": [{"file": n, "reason": r} for n, r in v.unparseable],
        "warnings": warnings,
    }


def run_batch(folder: str | os.PathLike, out: str | os.PathLike,
              pipeline: str | os.PathLike | Pipeline = "laser_recovery", *,
              baseline: str | None = None, compare: str | None = None,
              jobs: int | None = None, px_per_mm: float | None = None, overwrite: bool = False,
              progress: Callable[[int, int, PhotoResult], None] | None = None,
              on_plan: Callable[[BatchPlan], None] | None = None,
              argv: Sequence[str] | None = None, chart: str = "auto",
              register: bool = True, strict: bool = False,
              scheduler: str | None = None) -> BatchResult:
    """Measure a visit folder and write every result file (layout in the module text).

    Parameters
    ----------
    folder : path-like
        Visit folder.
    out : path-like
        Output folder; it must be empty or absent unless ``overwrite``.
    pipeline : str, path-like or Pipeline
    baseline, compare : str, optional
        See :func:`plan_batch`.
    jobs : int, optional
        Worker processes (default: number of CPUs).
    px_per_mm : float, optional
        Scale of photos without one in the manifest.
    overwrite : bool
        Measure every photo again: an earlier run's photo folders are removed first.
        Without it, a photo whose earlier result in ``out`` was made from the same inputs
        (file, skinmetrics version, pipeline, scale, options, baseline) is reused and the
        others are measured (a resumed run). Either way the earlier tables, run.json and
        report are removed before the first photo and rebuilt; a non-empty folder that
        holds no skinmetrics results is refused without ``overwrite``.
    progress : callable, optional
        ``progress(done, total, result)`` after each photo.
    on_plan : callable, optional
        Called with the plan once it is checked, before measuring (to show warnings).
    argv : sequence of str, optional
        Command line recorded in run.json (default ``sys.argv``).
    chart : str
        ``auto`` (find a ColorChecker in each photo), ``none``, or a JSON file with the
        chart's corners.
    register : bool
        Align follow-up photos to their baseline (registration, colour normalisation).
    strict : bool
        Manifest lines and photos that cannot be resolved are errors (see
        :func:`plan_batch`).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``) to measure on instead
        of local processes (see :func:`measure_all`'s ``client``).

    Returns
    -------
    BatchResult
        ``exit_code`` is 1 when some photo failed.

    Raises
    ------
    BatchError
        A usage error (see :func:`plan_batch`), or an output folder that is not empty.
    """
    out = Path(out)
    start = _now()
    if jobs is not None and jobs < 1:
        raise BatchError(f"jobs must be at least 1 (got {jobs})")
    plan = plan_batch(folder, pipeline, baseline=baseline, compare=compare,
                      px_per_mm=px_per_mm, exclude=[out], strict=strict)
    _check_out(out, overwrite, plan.visits.photos)
    if on_plan is not None:
        on_plan(plan)
    n_jobs = max(1, min(jobs or os.cpu_count() or 1, len(plan.visits.photos)))
    client = None if scheduler is None else connect(scheduler)
    try:
        try:
            if out.is_dir():
                _clear_previous(out, photos=overwrite)
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BatchError(f"cannot write to output folder '{out}' "
                             f"({exc.strerror or exc})") from exc
        results = measure_all(plan, out / "photos", n_jobs, progress, chart=chart,
                              register=register, client=client)
    finally:
        if client is not None:
            client.close()
    tables = build_tables(plan, results)
    write_csv(out / "measurements.csv", tables["measurements"])
    write_csv(out / "photos.csv", tables["photos"])
    write_csv(out / "change_from_baseline.csv", tables["change_from_baseline"])
    for pid, table in tables["patients"].items():
        write_csv(out / "patients" / f"{pid}.csv", table)
    write_csv(out / "summary.csv", tables["summary"])
    write_csv(out / "cohort_stats.csv", tables["cohort"])
    warnings = list(plan.warnings)
    warnings += [f"{r.photo.file}: {w}" for r in results
                 for w in (r.record or {}).get("warnings", [])]
    warnings += [f"{results[i].photo.file}: not compared with its baseline "
                 f"{results[j].photo.file}, which failed" for i, j in _baselines(plan).items()
                 if results[j].status != "ok" and results[i].status == "ok"]
    end = _now()
    options = {"pipeline": str(pipeline) if not isinstance(pipeline, Pipeline)
               else pipeline.source, "baseline": baseline, "compare": compare,
               "px_per_mm": px_per_mm, "overwrite": overwrite, "chart": chart,
               "register": register, "scheduler": scheduler}
    record = _run_record(plan, out, results, warnings, start, end, n_jobs, argv, options)
    write_json(out / "run.json", record)
    try:
        write_report(out)
    except Exception as exc:  # the tables are written: a failed report must not lose them
        (out / REPORT_FILE).unlink(missing_ok=True)  # nor leave an earlier run's report
        warnings.append(_one_line(f"{REPORT_FILE} not written: {type(exc).__name__}: {exc}"))
        write_json(out / "run.json", {**record, "warnings": warnings})
    return BatchResult(plan, out, results, tables, warnings, start, end)



def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``2 h 07 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def eta_seconds(seconds: Mapping[bool, Sequence[float]], left: Mapping[bool, int],
                elapsed: float) -> float | None:
    """Time left to measure a batch, from what it has measured so far.

    Parameters
    ----------
    seconds : mapping bool -> sequence of float
        Seconds each photo took, baselines (False) and follow-ups (True; slower: they are
        registered to their baseline) apart, reused photos left out.
    left : mapping bool -> int
        Photos of each kind still to measure.
    elapsed : float
        Wall-clock seconds since the first photo started (with several processes, the
        photos' own seconds add up faster than this: their ratio is the parallelism).

    Returns
    -------
    float or None
        None until a photo has been measured. A follow-up is costed as a baseline until one
        has been measured.
    """
    measured = [t for kind in (False, True) for t in seconds.get(kind, ())]
    if not measured or elapsed <= 0:
        return None
    mean = {kind: fmean(seconds[kind]) if seconds.get(kind) else fmean(measured)
            for kind in (False, True)}
    parallel = max(1.0, sum(measured) / elapsed)
    return sum(left.get(kind, 0) * mean[kind] for kind in (False, True)) / parallel


class ProgressBar:
    """Progress of a batch: on a terminal a rich bar on stderr (photos done / total, and
    the time left from the seconds measured per baseline and per follow-up photo,
    :func:`eta_seconds`); elsewhere (a log file, CI, ``nohup``), with ``lines``, one line per
    photo on stderr.

    Use as a context manager and pass it as ``progress`` to :func:`run_batch`; when
    ``enabled`` is false (``--quiet``), or rich is missing and ``lines`` is not asked for, it
    does nothing.
    """

    def __init__(self, enabled: bool = True, lines: bool = False):
        self._bar = None
        self._task = None
        self._lines = enabled and lines
        self._follow_ups: set[str] = set()
        self._seconds: dict[bool, list[float]] = {False: [], True: []}
        self._left: dict[bool, int] = {False: 0, True: 0}
        self._start = time.perf_counter()
        if enabled and not lines:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
            except ImportError:  # rich comes with typer; without it there is no bar
                return
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("photos, {task.fields[eta]}"),
                                 console=Console(stderr=True), transient=True)

    @property
    def enabled(self) -> bool:
        """Whether a bar is shown."""
        return self._bar is not None

    def __enter__(self) -> ProgressBar:
        self._start = time.perf_counter()
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("measuring", total=None, eta="time left -")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.stop()

    def set_plan(self, plan: BatchPlan) -> None:
        """The photos to measure, follow-ups (measured last, slower) told apart."""
        photos = plan.visits.photos
        self._follow_ups = {photos[i].file for i in _baselines(plan)}
        self._left = {True: len(self._follow_ups), False: len(photos) - len(self._follow_ups)}
        if self._bar is not None:
            self._bar.update(self._task, total=len(photos))

    def __call__(self, done: int, total: int, result: PhotoResult | None = None) -> None:
        """The ``progress`` callback of :func:`run_batch`."""
        if result is not None:
            kind = result.photo.file in self._follow_ups
            self._left[kind] = max(0, self._left[kind] - 1)
            if not result.reused:
                self._seconds[kind].append(result.seconds)
        if self._bar is not None:
            left = eta_seconds(self._seconds, self._left, time.perf_counter() - self._start)
            eta = "time left -" if left is None else f"about {_duration(left)} left"
            self._bar.update(self._task, completed=done, total=total, eta=eta)
        if self._lines and result is not None:
            what = ("reused" if result.reused else "measured" if result.status == "ok"
                    else f"failed: {result.message}")
            print(f"[{done}/{total}] {result.photo.file} {what} ({result.seconds:.1f} s)",
                  file=sys.stderr, flush=True)
