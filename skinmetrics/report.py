"""Self-contained HTML report of a results folder (``report.html``).

One file that opens offline (from a USB stick) and prints to PDF: overlay thumbnails and
plots are embedded as ``data:`` URIs or inline SVG, nothing is loaded from elsewhere and no
JavaScript is used. A thumbnail links to the full overlay file of the results folder
(``photos/<stem>/overlay.jpg``). Sections:

* **Run** - date, skinmetrics version, command, pipeline and its parameters, numbers of
  patients and photos, every photo that could not be measured with its reason, warnings;
* **Patients** - per patient and view, the overlays of the baseline and each follow-up side
  by side; the patient's table (``patients/<id>.csv``: value per visit, change and percent
  change) with a small trend plot per metric over days;
* **Cohort** - ``summary.csv`` and ``cohort_stats.csv`` as tables, and per metric every
  patient's course (thin lines) with the mean +/- SD (thick), per arm;
* **Methods** - each metric's definition, formula and references (:func:`methods`), and
  the definitions of change and of the statistics.

The report is made from the files of a results folder alone, so it can be rebuilt without
measuring again (``skinmetrics report results/``; read by :mod:`skinmetrics.results`).
Numbers are shown by :func:`skinmetrics.plots.format_value`; every number taken from a CSV
file names its cell (``data-csv``, ``data-row``, ``data-col`` attributes: file relative to
the results folder, 0-based data row, column), so the report can be checked against the
tables.

Usable from Python::

    from skinmetrics.report import write_report
    write_report("results")  # results/report.html
"""

from __future__ import annotations

import math
import os
import shlex
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

import jinja2
import pandas as pd

from . import __version__, colour, roi
from .io import atomic_write_bytes
from .methods import Layer
from .overlay import layer_colours
from .plots import (
    MISSING,
    PALETTE,
    course_figure,
    format_value,
    pretty_unit,
    sparkline_svg,
    thumbnail_data_uri,
)
from .results import ReportError, Results, cell_number, load_results, patient_ids
from .stages import STAGES
from .tables import (
    PATIENT_CHANGE_PREFIXES,
    PATIENT_KEY_COLUMNS,
)
from .visits import format_day, natural_key

__all__ = ["REPORT_FILE", "methods", "references", "render_report", "write_report"]

REPORT_FILE = "report.html"


# --- methods: what each metric is ------------------------------------------------------------

def methods() -> tuple[Layer, ...]:
    """Every layer the report describes: the colour processing, the skin region and each
    stage (their ``LAYER`` declarations, :mod:`skinmetrics.methods`)."""
    return (colour.LAYER, roi.LAYER, *(m.LAYER for m in STAGES.values()))


def references() -> dict[str, str]:
    """Full citations, by the short key the metric definitions use (the layers'
    ``citations``)."""
    return {k: v for layer in methods() for k, v in layer.citations.items()}


# --- the page's sections ---------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """A piece of a table cell: its text and the CSV cell it shows (file, row, column)."""

    text: str
    ref: tuple[str, int, str] | None = None


def _num(csv: str, i: int, row: Mapping[str, str], col: str, kind: str = "value") -> Part:
    return Part(format_value(cell_number(row[col]), kind), (csv, i, col))


def _mean_sd(csv: str, i: int, row: Mapping[str, str], mean: str, sd: str,
             kind: str = "value") -> list[Part]:
    """``mean ± SD`` (the mean alone when there is no SD)."""
    parts = [_num(csv, i, row, mean, kind)]
    if row[sd] != "":
        parts += [Part(" \u00b1 "), _num(csv, i, row, sd, kind)]
    return parts


def _stat(prefix: str, kind: str = "value"):
    """Cell content: the ``<prefix>_mean ± <prefix>_sd`` columns."""
    return lambda c, i, r: _mean_sd(c, i, r, f"{prefix}_mean", f"{prefix}_sd", kind)


def _col(col: str, kind: str = "value"):
    """Cell content: one number column."""
    return lambda c, i, r: [_num(c, i, r, col, kind)]


def _table(csv: str, frame: pd.DataFrame, columns: Sequence[tuple[str, object]]) -> dict:
    """A table for the template: header texts and rows of cells.

    ``columns`` are (header, content); content is a column name (text shown as it is) or a
    function of (csv name, row number in the CSV, row) returning a list of :class:`Part`.
    A cell is ``{"parts": [Part, ...], "num": bool, "column": str}`` (``column``: the CSV
    column of a text cell, else ``""``).
    """
    rows = []
    for i, row in zip(frame.index, frame.to_dict("records"), strict=True):
        rows.append([{"parts": [Part(row[content])], "num": False, "column": content}
                     if isinstance(content, str)
                     else {"parts": content(csv, int(i), row), "num": True, "column": ""}
                     for _, content in columns])
    return {"header": [h for h, _ in columns], "rows": rows}


def _used(frame: pd.DataFrame, column: str) -> bool:
    """Whether some row has a value in a text column."""
    return bool((frame[column] != "").any())


def _with_pretty_units(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(unit=frame["unit"].map(pretty_unit))


def _stat_columns(frame: pd.DataFrame) -> list[tuple[str, object]]:
    """Columns shared by summary.csv and the group rows of cohort_stats.csv (after the keys);
    ``% n`` only when it differs from n somewhere (a zero baseline)."""
    percent_n = [("% n", _col("percent_change_n", "count"))] if (
        frame["percent_change_n"] != frame["n"]).any() else []
    return [("metric", "metric"), ("unit", "unit"), ("visit", "visit"), ("day", _col("day")),
            ("n", _col("n", "count")), ("baseline", _stat("baseline")),
            ("follow-up", _stat("value")), ("change", _stat("change")), *percent_n,
            ("% change", _stat("percent_change", "percent"))]


def _summary_table(summary: pd.DataFrame) -> dict:
    """summary.csv for the page (view and arm columns only when used)."""
    keys = [c for c in ("view", "region", "arm") if c == "region" or _used(summary, c)]
    columns = [(c, c) for c in keys] + _stat_columns(summary) + [
        ("% median", _col("percent_change_median", "percent"))]
    return _table("summary.csv", _with_pretty_units(summary), columns)


def _group_table(cohort: pd.DataFrame) -> dict:
    """The ``group`` rows of cohort_stats.csv."""
    group = _with_pretty_units(cohort[cohort["kind"] == "group"])
    keys = ["region"] + (["arm"] if _used(group, "arm") else [])
    return _table("cohort_stats.csv", group, [(c, c) for c in keys] + _stat_columns(group))


def _paired_table(cohort: pd.DataFrame) -> dict | None:
    """The ``paired`` rows of cohort_stats.csv (split-face designs), None without any."""
    paired = _with_pretty_units(cohort[cohort["kind"] == "paired"])
    if not len(paired):
        return None

    def kind(r: Mapping[str, str]) -> str:
        return "percent" if r["quantity"] == "percent_change" else "value"

    def quantity(c: str, i: int, r: Mapping[str, str]) -> list[Part]:
        return [Part("% change (pp)" if kind(r) == "percent" else f"change ({r['unit']})")]

    def difference(c: str, i: int, r: Mapping[str, str]) -> list[Part]:
        return _mean_sd(c, i, r, "mean_difference", "sd_difference", kind(r))

    def interval(c: str, i: int, r: Mapping[str, str]) -> list[Part]:
        return [Part("["), _num(c, i, r, "ci95_low", kind(r)), Part(", "),
                _num(c, i, r, "ci95_high", kind(r)), Part("]")]

    columns = [
        ("region", "region"), ("metric", "metric"), ("visit", "visit"), ("arm a", "arm_a"),
        ("arm b", "arm_b"), ("quantity (a \u2212 b)", quantity),
        ("pairs", _col("n_pairs", "count")),
        ("difference", difference), ("95 % CI", interval),
        ("Wilcoxon p", _col("wilcoxon_p")), ("note", "note"),
    ]
    return _table("cohort_stats.csv", paired, columns)


def _metric_units(measurements: pd.DataFrame) -> dict[str, str]:
    """Metric -> unit, in the order of measurements.csv."""
    units: dict[str, str] = {}
    for metric, unit in zip(measurements["metric"], measurements["unit"], strict=True):
        if metric and not units.get(metric):
            units[metric] = unit
    return units


def _courses(measurements: pd.DataFrame) -> dict:
    """metric -> region -> arm -> patient -> [(visit, day, value)] by day, a patient's views
    in one arm averaged (as in cohort_stats.csv)."""
    m = measurements[(measurements["status"] == "ok") & (measurements["metric"] != "")
                     & (measurements["value"] != "")]
    m = m.assign(value=m["value"].astype(float), day=m["day"].astype(float))
    means = m.groupby(["metric", "region", "arm", "patient", "visit"], sort=False).agg(
        day=("day", "first"), value=("value", "mean"))
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for (metric, region, arm, patient, visit), day, value in zip(
            means.index, means["day"], means["value"], strict=True):
        out[metric][region][arm].setdefault(patient, []).append((visit, day, value))
    for by_region in out.values():
        for by_arm in by_region.values():
            for by_patient in by_arm.values():
                for course in by_patient.values():
                    course.sort(key=lambda t: t[1])
    return out


def _cohort_plots(results: Results) -> list[dict]:
    units = _metric_units(results.measurements)
    courses = _courses(results.measurements)
    return [{"metric": metric, "unit": pretty_unit(units[metric]),
             "src": course_figure(courses[metric], units[metric])}
            for metric in units if metric in courses]


def _overlay_href(results: Results, stem: str, links_from: Path) -> str:
    """Link from the report's folder to a photo's full overlay."""
    target = os.path.relpath(results.folder / "photos" / stem / "overlay.jpg", links_from)
    return quote(Path(target).as_posix())


def _visit_days(photos: Sequence[Mapping]) -> dict[str, float]:
    return {p["visit"]: p["day"] for p in photos}


def _patient_table(results: Results, pid: str, days: Mapping[str, float]) -> dict | None:
    """patients/<pid>.csv: rows grouped by view, region and arm, with a trend per row."""
    frame = results.patients.get(pid)
    if frame is None:
        return None
    csv = f"patients/{pid}.csv"
    visits = [c for c in frame.columns
              if c not in PATIENT_KEY_COLUMNS and not c.startswith(PATIENT_CHANGE_PREFIXES)]
    visit_days = [days.get(v.split("/")[0], math.nan) for v in visits]
    # the change to the last compared visit (the CSV has one per compared visit)
    last = {prefix: next((c for c in reversed(frame.columns) if c.startswith(prefix)), None)
            for prefix in ("change_", "percent_change_")}
    groups: dict[tuple, list] = {}
    for i, row in enumerate(frame.to_dict("records")):
        cells = [_num(csv, i, row, v) for v in visits]
        cells += [_num(csv, i, row, col, kind) if col else Part(format_value(math.nan, kind))
                  for col, kind in ((last["change_"], "value"),
                                    (last["percent_change_"], "percent"))]
        trend = sparkline_svg(visit_days, [cell_number(row[v]) for v in visits])
        key = (row["view"], row["region"], row["arm"])
        groups.setdefault(key, []).append({"metric": row["metric"],
                                           "unit": pretty_unit(row["unit"]),
                                           "cells": cells, "trend": trend})
    header = [f"{v} (day {format_day(d)})" if math.isfinite(d) else v
              for v, d in zip(visits, visit_days, strict=True)]
    return {"visits": header,
            "groups": [{"title": " \u00b7 ".join(f"{k} {v}" for k, v in
                                                 zip(("view", "region", "arm"), key, strict=True)
                                                 if v),
                        "rows": rows} for key, rows in groups.items()]}


def _patient_section(results: Results, pid: str, anchor: str, links_from: Path) -> dict:
    photos = sorted((p for p in results.run["photos"] if p["patient"] == pid),
                    key=lambda p: (natural_key(p.get("view") or ""), p["day"]))
    comparison = next((c for c in results.run.get("comparisons") or []
                       if c["patient"] == pid), None)
    baseline = comparison["baseline_visit"] if comparison else None
    views: dict[str, list] = {}
    for p in photos:
        ok = p["status"] == "ok"
        overlay = results.folder / "photos" / p["stem"] / "overlay.jpg"
        views.setdefault(p.get("view") or "", []).append({
            "visit": p["visit"], "day": format_day(p["day"]), "file": p["file"],
            "arm": p.get("arm") or "", "role": "baseline" if p["visit"] == baseline else "",
            "error": "" if ok else p.get("message") or "not measured",
            "thumb": thumbnail_data_uri(overlay) if ok else None,
            "href": _overlay_href(results, p["stem"], links_from) if ok else None})
    follow = [f"{v['visit']} (day {format_day(v['day'])})"
              for v in (comparison or {}).get("visits", [])]
    return {"id": pid, "anchor": anchor,
            "arms": sorted({p.get("arm") for p in photos if p.get("arm")}, key=natural_key),
            "baseline": baseline, "compared": follow,
            "views": [{"view": view, "photos": items} for view, items in views.items()],
            "table": _patient_table(results, pid, _visit_days(photos))}


def _calibration_text(cal: Mapping | None) -> str:
    if not cal or cal.get("source") in (None, "none"):
        return "none"
    delta = cal.get("delta_e_mean")
    return cal["source"] + ("" if delta is None else f", \u0394E00 {format_value(delta)}")


def _alignment_text(alignment: Mapping | None) -> str:
    if not alignment:
        return "baseline" if alignment is None else "none"
    reg = alignment.get("registration") or {}
    if not alignment.get("registered"):
        return "not registered: " + (reg.get("message") or "off")
    quality = reg.get("quality")
    return "registered" + ("" if quality is None else f", quality {format_value(quality)}")


def _estimates_text(estimates: Mapping | None, sources: Mapping | None) -> str:
    """The values the layers estimated from a photo, each with where it came from."""
    def shown(value) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(map(format_value, value))
        return format_value(value)

    parts = [f"{name.replace('_', ' ')} {shown(value)} "
             f"({((sources or {}).get(stage) or {}).get(name, '?')})"
             for stage, values in (estimates or {}).items() for name, value in values.items()]
    return "; ".join(parts) or MISSING


def _run_section(results: Results) -> dict:
    run = results.run
    photos = run["photos"]
    pipeline = run.get("pipeline") or {}
    params = pipeline.get("params") or {}
    rows = [{"file": p["file"], "patient": p["patient"], "visit": p["visit"],
             "day": format_day(p["day"]), "view": p.get("view") or "", "arm": p.get("arm") or "",
             "scale": (MISSING if p.get("px_per_mm") is None else
                       f"{format_value(p['px_per_mm'])} ({p.get('scale_source') or '?'})"),
             "calibration": _calibration_text(p.get("calibration")),
             "alignment": _alignment_text(p.get("alignment")) if p["status"] == "ok" else "",
             "estimates": (_estimates_text(p.get("estimates"), p.get("estimates_source"))
                           if p["status"] == "ok" else ""),
             "status": p["status"]} for p in photos]
    return {
        "start": run.get("start_time") or "", "end": run.get("end_time") or "",
        "version": run.get("skinmetrics_version") or "",
        "command": shlex.join(run.get("command") or []),
        "input": run.get("input") or "", "manifest": run.get("manifest") or "",
        "options": run.get("options") or {},
        "pipeline": {k: pipeline.get(k) or "" for k in ("name", "description", "source")},
        "stages": pipeline.get("stages") or [], "regions": pipeline.get("regions") or [],
        "params": [(section, ", ".join(f"{k} = {v}" for k, v in values.items()))
                   for section, values in params.items()],
        "n_patients": len(patient_ids(run)), "n_photos": len(photos),
        "n_measured": sum(p["status"] == "ok" for p in photos),
        "n_failed": sum(p["status"] != "ok" for p in photos),
        "n_comparisons": sum(len(c.get("visits") or []) for c in run.get("comparisons") or []),
        "errors": [p for p in photos if p["status"] != "ok"],
        "warnings": run.get("warnings") or [],
        "unparseable": run.get("unparseable") or [],
        "photos": rows, "versions": run.get("versions") or {},
    }


def _methods_section(results: Results) -> tuple[list[dict], list[dict]]:
    """Layers with the metrics of the results (definition, unit, formula, references) and
    the numbered references they cite."""
    units = _metric_units(results.measurements)
    numbers: dict[str, int] = {}

    def cite(keys: Sequence[str]) -> list[int]:
        return [numbers.setdefault(k, len(numbers) + 1) for k in keys]

    layers, known = [], set()
    for layer in methods():
        present = [m for m in layer.metrics if m.name in units]
        if layer.metrics and not present:
            continue
        refs = cite(layer.references)
        metrics = [{"name": m.name, "unit": pretty_unit(units[m.name]),
                    "definition": m.definition, "formula": m.formula,
                    "refs": cite(m.references)} for m in present]
        known.update(m.name for m in present)
        layers.append({"name": layer.name, "title": layer.title, "method": layer.method,
                       "refs": refs, "metrics": metrics})
    other = [{"name": m, "unit": pretty_unit(u), "definition": "declared by no "
              "layer (skinmetrics.methods)", "formula": "", "refs": []}
             for m, u in units.items() if m not in known]
    if other:
        layers.append({"name": "other", "title": "Other metrics", "method": "",
                       "refs": [], "metrics": other})
    cited = references()
    refs = [{"number": n, "key": k, "text": cited[k]} for k, n in numbers.items()]
    return layers, refs


def _overlay_legend(folder: Path) -> list[tuple[str, str]]:
    """(layer, CSS colour) of the masks drawn on the overlays of a results folder."""
    names = {p.stem for p in folder.glob("photos/*/masks/*.png")}
    colours = layer_colours()
    legend = [(n, "#{:02x}{:02x}{:02x}".format(*colours[n])) for n in colours if n in names]
    if any(n.startswith("region_") for n in names):
        legend.append(("anatomical regions", "#ffffff"))
    return legend


def render_report(results: Results, links_from: str | os.PathLike | None = None) -> str:
    """The report of a results folder as one HTML page.

    Parameters
    ----------
    results : Results
        From :func:`skinmetrics.results.load_results`.
    links_from : path-like, optional
        Folder the page will be saved in (default: the results folder); the thumbnails'
        links to the full overlay files are relative to it.

    Returns
    -------
    str
        The HTML text.
    """
    links_from = Path(links_from) if links_from is not None else results.folder
    pids = patient_ids(results.run)
    layers, references = _methods_section(results)
    template = files("skinmetrics").joinpath("templates", "report.html.j2")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    page = env.from_string(template.read_text(encoding="utf-8"))
    return page.render(
        title=Path(results.run.get("input") or str(results.folder)).name,
        generated=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        report_version=__version__,
        run=_run_section(results),
        patients=[_patient_section(results, pid, f"patient-{n}", links_from)
                  for n, pid in enumerate(pids, 1)],
        legend=_overlay_legend(results.folder),
        summary=_summary_table(results.summary),
        group=_group_table(results.cohort),
        paired=_paired_table(results.cohort),
        plots=_cohort_plots(results),
        layers=layers, references=references,
        palette=PALETTE,
    )


def write_report(folder: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Make the report of a results folder and write it atomically.

    Parameters
    ----------
    folder : path-like
        Results folder written by :func:`skinmetrics.batch.run_batch`.
    out : path-like, optional
        Report file (default ``<folder>/report.html``).

    Returns
    -------
    Path
        The report file.

    Raises
    ------
    ReportError
        Not a results folder (see :func:`skinmetrics.results.load_results`), or the file
        cannot be written.
    """
    results = load_results(folder)
    out = Path(out) if out is not None else results.folder / REPORT_FILE
    html = render_report(results, out.parent)
    try:
        atomic_write_bytes(out, html.encode("utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot write report '{out}' ({exc.strerror or exc})") from exc
    return out
