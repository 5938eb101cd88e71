"""Result tables of a batch: pure functions from per-photo records to pandas DataFrames, and
a CSV writer.

Tables (exact columns in the ``*_COLUMNS`` constants):

* :func:`measurements_table` - tidy long table, one row per photo and metric;
* :func:`change_table` - change from baseline, one row per patient, view, metric and
  compared follow-up visit: ``change = value - baseline_value`` and
  ``percent_change = 100 change / baseline_value`` (missing when the baseline is 0 or either
  value is missing);
* :func:`patient_table` - one patient's wide table, one row per view and metric, one column
  per visit, then the change to the compare visit;
* :func:`summary_table` - over all patients, one row per view, arm, metric and follow-up
  visit: n, mean and SD (n - 1 denominator, missing for n < 2) of the paired baseline and
  follow-up values and of the change, and the n, mean, SD and median of the percent change.

Rows are ordered deterministically: patients and views in natural order (``P2`` before
``P10``), days ascending, metrics in the order the pipeline reports them. Missing numbers are
NaN in the DataFrames and empty fields in the CSV files; text columns hold ``""`` when empty.

CSV files (:func:`write_csv`) are UTF-8 without BOM, comma-separated, with a header line and
``\\n`` line ends; numbers are plain decimals with up to 6 significant digits (integral values
without a decimal point, never thousands separators or exponents), so that pandas, R's
``read.csv`` and spreadsheet programs read them alike.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .io import atomic_write_bytes
from .visits import Comparison, natural_key

__all__ = [
    "MEASUREMENT_COLUMNS",
    "CHANGE_COLUMNS",
    "PATIENT_KEY_COLUMNS",
    "PATIENT_CHANGE_COLUMNS",
    "SUMMARY_COLUMNS",
    "percent_change",
    "measurements_table",
    "change_table",
    "patient_table",
    "summary_table",
    "format_number",
    "csv_bytes",
    "write_csv",
]

MEASUREMENT_COLUMNS = ["patient", "visit", "day", "view", "arm", "metric", "value", "unit",
                       "photo", "status", "message"]
CHANGE_COLUMNS = ["patient", "view", "arm", "metric", "unit", "baseline_visit", "baseline_day",
                  "visit", "day", "baseline_value", "value", "change", "percent_change"]
#: Leading columns of the patient wide table; the visit columns (named by visit label,
#: ordered by day) and then :data:`PATIENT_CHANGE_COLUMNS` follow.
PATIENT_KEY_COLUMNS = ["view", "arm", "metric", "unit"]
PATIENT_CHANGE_COLUMNS = ["change", "percent_change"]
SUMMARY_COLUMNS = ["view", "arm", "metric", "unit", "visit", "day", "n",
                   "baseline_mean", "baseline_sd", "value_mean", "value_sd",
                   "change_mean", "change_sd", "percent_change_n", "percent_change_mean",
                   "percent_change_sd", "percent_change_median"]

_TEXT = {"patient", "visit", "view", "arm", "metric", "unit", "photo", "status", "message",
         "baseline_visit"}


def _number(value) -> float:
    """A value as float, NaN when missing or not finite."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def percent_change(value, baseline) -> float:
    """``100 (value - baseline) / baseline``; NaN when either is missing or baseline is 0."""
    value, baseline = _number(value), _number(baseline)
    if math.isnan(value) or math.isnan(baseline) or baseline == 0:
        return math.nan
    return 100.0 * (value - baseline) / baseline


_DAY = {"day", "baseline_day"}
_COUNT = {"n", "percent_change_n"}


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    """DataFrame with text columns as str ('' when empty), counts as int, days as int when
    all are integers (else float) and every other column as float (NaN when missing)."""
    data = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if c in _TEXT:
            data[c] = pd.Series(["" if v is None else str(v) for v in values], dtype=object)
        elif c in _COUNT or (c in _DAY and all(isinstance(v, int | np.integer) for v in values)):
            data[c] = pd.Series(values, dtype="int64")
        else:
            data[c] = pd.Series([_number(v) for v in values], dtype="float64")
    return pd.DataFrame(data, columns=list(columns))


def _day_value(day):
    return int(day) if float(day).is_integer() else float(day)


def measurements_table(records: Iterable[Mapping],
                       metric_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy long table of a batch: one row per photo and metric.

    Parameters
    ----------
    records : iterable of mapping
        One per photo, with keys ``patient``, ``visit``, ``day``, ``view``, ``arm``, ``photo``
        (file name relative to the visit folder), ``status`` (``"ok"`` or ``"error"``),
        ``message``, ``metrics`` ({name: value or None}) and ``units`` ({name: unit}). An
        errored photo has empty ``metrics``.
    metric_order : sequence of str, optional
        Metric order; default: order of first appearance over the records (the pipeline's).

    Returns
    -------
    DataFrame
        Columns :data:`MEASUREMENT_COLUMNS`; ordered by patient, day, view, then metric. An
        errored photo has one row with an empty ``metric`` and NaN ``value``; a metric
        that could not be measured (None) has NaN ``value``.
    """
    records = sorted(records, key=lambda r: (natural_key(r["patient"]), r["day"],
                                             natural_key(r.get("view") or "")))
    order = list(metric_order or [])
    for r in records:
        order += [m for m in r.get("metrics") or {} if m not in order]
    rows = []
    for r in records:
        base = {"patient": r["patient"], "visit": r["visit"], "day": _day_value(r["day"]),
                "view": r.get("view") or "", "arm": r.get("arm") or "", "photo": r["photo"],
                "status": r["status"], "message": r.get("message") or ""}
        metrics, units = r.get("metrics") or {}, r.get("units") or {}
        if r["status"] != "ok":
            rows.append({**base, "metric": "", "value": None, "unit": ""})
            continue
        rows += [{**base, "metric": m, "value": metrics[m], "unit": units.get(m, "")}
                 for m in order if m in metrics]
    return _frame(rows, MEASUREMENT_COLUMNS)


def _metric_units(measurements: pd.DataFrame) -> dict[str, str]:
    """Metric -> unit, in the table's metric order."""
    units: dict[str, str] = {}
    for metric, unit in zip(measurements["metric"], measurements["unit"], strict=True):
        if metric and (metric not in units or not units[metric]):
            units[metric] = unit
    return units


def _index(measurements: pd.DataFrame):
    """Lookups of a measurements table: values, and photos (label, arm) per patient/day/view."""
    values: dict[tuple, float] = {}
    photos: dict[tuple, dict[str, tuple[str, str]]] = defaultdict(dict)
    for row in measurements.itertuples(index=False):
        photos[(row.patient, row.day)].setdefault(row.view, (row.visit, row.arm))
        if row.status == "ok" and row.metric:
            values[(row.patient, row.day, row.view, row.metric)] = _number(row.value)
    return values, photos


def change_table(measurements: pd.DataFrame, comparisons: Iterable[Comparison],
                 paired_baselines: Mapping[tuple, float | None] | None = None) -> pd.DataFrame:
    """Change from baseline of every compared follow-up photo.

    Parameters
    ----------
    measurements : DataFrame
        From :func:`measurements_table`.
    comparisons : iterable of Comparison
        Baseline and compared visits per patient (:func:`skinmetrics.visits.plan_comparisons`).
    paired_baselines : mapping, optional
        (patient, follow-up day, view, metric) -> the baseline's value measured over the
        part of the baseline that this follow-up shows (registered photos); used instead
        of the baseline photo's own value where given.

    Returns
    -------
    DataFrame
        Columns :data:`CHANGE_COLUMNS`; one row per patient, view, metric and compared visit
        at which the patient has a photo of that view (also when it failed: empty value),
        ordered by patient, view, metric, day. ``baseline_value`` is the same patient and
        view at the baseline visit (NaN when missing), or its paired value.
    """
    units = _metric_units(measurements)
    values, photos = _index(measurements)
    rows = []
    for comp in sorted(comparisons, key=lambda c: natural_key(c.patient)):
        base_photos = photos.get((comp.patient, comp.baseline_day), {})
        views = sorted({v for _, day in comp.visits for v in photos.get((comp.patient, day), {})},
                       key=natural_key)
        for view in views:
            for metric, unit in units.items():
                base_own = values.get((comp.patient, comp.baseline_day, view, metric), math.nan)
                for label, day in sorted(comp.visits, key=lambda v: v[1]):
                    here = photos.get((comp.patient, day), {})
                    if view not in here:
                        continue
                    value = values.get((comp.patient, day, view, metric), math.nan)
                    base = _paired(paired_baselines, (comp.patient, day, view, metric),
                                   base_own)
                    arm = here[view][1] or base_photos.get(view, ("", ""))[1]
                    rows.append({
                        "patient": comp.patient, "view": view, "arm": arm, "metric": metric,
                        "unit": unit, "baseline_visit": comp.baseline_visit,
                        "baseline_day": _day_value(comp.baseline_day), "visit": label,
                        "day": _day_value(day), "baseline_value": base, "value": value,
                        "change": value - base, "percent_change": percent_change(value, base),
                    })
    return _frame(rows, CHANGE_COLUMNS)


def _paired(paired: Mapping[tuple, float | None] | None, key: tuple, own: float) -> float:
    """The paired baseline value for ``key`` when there is one, else ``own``."""
    if paired is None or key not in paired:
        return own
    return _number(paired[key])


def patient_table(measurements: pd.DataFrame, patient: str,
                  comparison: Comparison | None = None,
                  paired_baselines: Mapping[tuple, float | None] | None = None
                  ) -> pd.DataFrame:
    """One patient's wide table.

    Parameters
    ----------
    measurements : DataFrame
        From :func:`measurements_table` (other patients' rows are ignored).
    patient : str
    comparison : Comparison, optional
        The patient's baseline and compared visits; ``change`` and ``percent_change`` go from
        the baseline to the last compared visit (NaN without a comparison).
    paired_baselines : mapping, optional
        As in :func:`change_table` (the change uses the paired baseline value).

    Returns
    -------
    DataFrame
        Columns :data:`PATIENT_KEY_COLUMNS`, one column per visit of the patient ordered by
        day (named by the visit label), then :data:`PATIENT_CHANGE_COLUMNS`; one row per view
        and metric (every metric of the table, NaN where the photo is missing or failed).
    """
    units = _metric_units(measurements)
    mine = measurements[measurements["patient"] == patient]
    values, photos = _index(mine)
    days = sorted(set(mine["day"]))
    labels = {}
    for day in days:
        day_labels = {label for label, _ in photos[(patient, day)].values()}
        labels[day] = "/".join(sorted(day_labels, key=natural_key))
    views = sorted(set(mine["view"]), key=natural_key)
    arms = {}
    for view in views:
        view_arms = [arm for day in days for v, (_, arm) in photos[(patient, day)].items()
                     if v == view and arm]
        arms[view] = view_arms[0] if view_arms else ""
    base_day = comparison.baseline_day if comparison else None
    final_day = comparison.visits[-1][1] if comparison and comparison.visits else None
    rows = []
    for view in views:
        for metric, unit in units.items():
            row = {"view": view, "arm": arms[view], "metric": metric, "unit": unit}
            for day in days:
                row[labels[day]] = values.get((patient, day, view, metric), math.nan)
            base = _paired(paired_baselines, (patient, final_day, view, metric),
                           values.get((patient, base_day, view, metric), math.nan))
            value = values.get((patient, final_day, view, metric), math.nan)
            row["change"] = value - base
            row["percent_change"] = percent_change(value, base)
            rows.append(row)
    columns = PATIENT_KEY_COLUMNS + [labels[d] for d in days] + PATIENT_CHANGE_COLUMNS
    return _frame(rows, columns)


def _stats(values: Sequence[float]) -> tuple[float, float]:
    """Mean and SD (n - 1); NaN when there are too few values."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean()) if arr.size else math.nan
    sd = float(arr.std(ddof=1)) if arr.size >= 2 else math.nan
    return mean, sd


def summary_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Over all patients: one row per view, arm, metric and follow-up visit.

    Parameters
    ----------
    changes : DataFrame
        From :func:`change_table`.

    Returns
    -------
    DataFrame
        Columns :data:`SUMMARY_COLUMNS`. ``n`` counts the patients with both a baseline and a
        follow-up value; the baseline, value and change statistics are over those pairs.
        ``percent_change_*`` are over the pairs with a non-zero baseline. SDs use n - 1 and
        are NaN for n < 2. ``day`` is the visit's day (the median when patients' days for
        one visit label differ). Ordered by view, arm, metric, day.
    """
    order = {m: i for i, m in enumerate(dict.fromkeys(changes["metric"]))}
    groups: dict[tuple, list] = defaultdict(list)
    for row in changes.itertuples(index=False):
        groups[(row.view, row.arm, row.metric, row.visit)].append(row)
    rows = []
    for (view, arm, metric, visit), members in groups.items():
        pairs = [(r.baseline_value, r.value) for r in members
                 if not (math.isnan(r.baseline_value) or math.isnan(r.value))]
        base = [b for b, _ in pairs]
        value = [v for _, v in pairs]
        change = [v - b for b, v in pairs]
        pct = [r.percent_change for r in members if not math.isnan(r.percent_change)]
        row = {"view": view, "arm": arm, "metric": metric, "unit": members[0].unit,
               "visit": visit, "day": _day_value(float(np.median([r.day for r in members]))),
               "n": len(pairs), "percent_change_n": len(pct),
               "percent_change_median": float(np.median(pct)) if pct else math.nan}
        for name, data in (("baseline", base), ("value", value), ("change", change),
                           ("percent_change", pct)):
            row[f"{name}_mean"], row[f"{name}_sd"] = _stats(data)
        rows.append(row)
    rows.sort(key=lambda r: (natural_key(r["view"]), natural_key(r["arm"]), order[r["metric"]],
                             r["day"], natural_key(r["visit"])))
    return _frame(rows, SUMMARY_COLUMNS)


def format_number(value) -> str:
    """A CSV field: plain decimal with up to 6 significant digits, ``""`` when missing.

    Integers and integral floats are written without a decimal point; values of 10^6 and
    more are rounded to integers; NaN, infinities and None are empty; text is unchanged.
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if not math.isfinite(value):
            return ""
        if value == 0:
            return "0"
        if abs(value) >= 1e6:
            return f"{value:.0f}"
        return np.format_float_positional(value, precision=6, unique=True, fractional=False,
                                          trim="-")
    return str(value)


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The CSV text of a table (see the module text for the format), UTF-8 encoded."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([str(c) for c in table.columns])
    for row in table.itertuples(index=False, name=None):
        writer.writerow([format_number(v) for v in row])
    return buf.getvalue().encode("utf-8")


def write_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write a table as CSV atomically (temporary file, then rename)."""
    atomic_write_bytes(path, csv_bytes(table))
