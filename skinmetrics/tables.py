"""Result tables of a batch: pure functions from per-photo records to pandas DataFrames, and
a CSV writer.

Tables (exact columns in the ``*_COLUMNS`` constants):

* :func:`measurements_table` - tidy long table, one row per photo, region and metric;
* :func:`change_table` - change from baseline, one row per patient, view, region, metric and
  compared follow-up visit: ``change = value - baseline_value`` and
  ``percent_change = 100 change / |baseline_value|`` (its sign that of the change, also for a
  metric below 0 such as ITA° of dark skin; missing when the baseline is 0 or either value is
  missing);
* :func:`patient_table` - one patient's wide table, one row per view, region and metric, one
  column per visit, then the change to the compare visit;
* :func:`summary_table` - over all patients, one row per view, region, arm, metric and
  follow-up visit: n, mean and SD (n - 1 denominator, missing for n < 2) of the paired
  baseline and follow-up values and of the change, and the n, mean, SD and median of the
  percent change;
* :func:`cohort_table` - cohort statistics per arm, region, metric and follow-up visit (views
  pooled within patients) and, for split-face designs, the paired comparison of the two arms
  within patients (mean difference, 95 % CI, Wilcoxon signed-rank p).

Metrics are per photo and region: a photo record may carry ``regions`` ({region: {metric:
value}}); a close-up photo has the single region :data:`DEFAULT_REGION` (``whole``).

Rows are ordered deterministically: patients, views and regions in natural order (``P2``
before ``P10``), days ascending, metrics in the order the pipeline reports them. Missing numbers are
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
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from .io import atomic_write_bytes
from .visits import Comparison, natural_key

__all__ = [
    "MEASUREMENT_COLUMNS",
    "PHOTO_COLUMNS",
    "CHANGE_COLUMNS",
    "PATIENT_KEY_COLUMNS",
    "PATIENT_CHANGE_PREFIXES",
    "decimals",
    "SUMMARY_COLUMNS",
    "COHORT_COLUMNS",
    "DEFAULT_REGION",
    "REGION_GROUPS",
    "WILCOXON_MIN_N",
    "record_regions",
    "percent_change",
    "measurements_table",
    "photos_table",
    "change_table",
    "patient_table",
    "summary_table",
    "arm_pair",
    "paired_statistics",
    "cohort_table",
    "format_number",
    "csv_bytes",
    "write_csv",
]

#: Region of a photo record without ``regions`` (a close-up: the whole skin area).
DEFAULT_REGION = "whole"

MEASUREMENT_COLUMNS = ["patient", "visit", "day", "view", "region", "arm", "metric", "value",
                       "unit", "photo", "status", "message"]
#: Columns of :func:`photos_table`: how each photo was measured, to check the captures.
PHOTO_COLUMNS = ["patient", "visit", "day", "view", "arm", "photo", "status", "message",
                 "px_per_mm", "scale_source", "calibration", "delta_e_mean", "registered",
                 "registration_quality", "rotation_deg", "relative_scale", "n_warnings",
                 "warnings"]
CHANGE_COLUMNS = ["patient", "view", "region", "arm", "metric", "unit", "baseline_visit",
                  "baseline_day", "visit", "day", "baseline_value", "value", "change",
                  "percent_change"]
#: Leading columns of the patient wide table; the visit columns (named by visit label,
#: ordered by day) and then, per compared visit, the columns of
#: :data:`PATIENT_CHANGE_PREFIXES` follow (:func:`patient_table`).
PATIENT_KEY_COLUMNS = ["view", "region", "arm", "metric", "label", "unit"]
#: Per compared visit V of baseline B: ``baseline_for_V`` (the baseline over the skin
#: compared with V), ``change_V_vs_B`` and ``percent_change_V_vs_B``.
PATIENT_CHANGE_PREFIXES = ("baseline_for_", "change_", "percent_change_")
SUMMARY_COLUMNS = ["view", "region", "arm", "metric", "unit", "visit", "day", "n",
                   "baseline_mean", "baseline_sd", "value_mean", "value_sd",
                   "change_mean", "change_sd", "percent_change_n", "percent_change_mean",
                   "percent_change_sd", "percent_change_median"]
_GROUP_STAT_COLUMNS = ["n", "baseline_mean", "baseline_sd", "value_mean", "value_sd",
                       "change_mean", "change_sd", "percent_change_n", "percent_change_mean",
                       "percent_change_sd"]
_PAIRED_STAT_COLUMNS = ["n_pairs", "mean_difference", "sd_difference", "ci95_low", "ci95_high",
                        "wilcoxon_p", "note"]
#: Columns of :func:`cohort_table`: ``kind`` (``group`` / ``paired``), the group keys, the
#: ``group`` statistics, then the ``paired`` comparison (cells of the other kind are empty).
COHORT_COLUMNS = (["kind", "region", "metric", "unit", "visit", "day", "arm"]
                  + _GROUP_STAT_COLUMNS + ["arm_a", "arm_b", "quantity"] + _PAIRED_STAT_COLUMNS)
#: Region groups of :func:`cohort_table`: the two cheeks are one group (pooled per patient;
#: in a split-face design each cheek is one arm, compared within patients).
REGION_GROUPS = {"left_cheek": "cheek", "right_cheek": "cheek"}
#: Fewest non-zero paired differences with which the two-sided exact Wilcoxon signed-rank
#: test can give p < 0.05 (with 5 the smallest p is 2 / 2^5 = 0.0625).
WILCOXON_MIN_N = 6

_TEXT = {"patient", "visit", "view", "region", "arm", "metric", "label", "unit", "photo", "status",
         "message", "baseline_visit", "kind", "arm_a", "arm_b", "quantity", "note",
         "scale_source", "calibration", "registered", "warnings"}


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
    """``100 (value - baseline) / |baseline|``: the change as a percentage of the baseline's
    size, of the change's sign (a metric that can be below 0, such as ITA° or Δa*, rises
    when its % change is positive); NaN when either is missing or baseline is 0."""
    value, baseline = _number(value), _number(baseline)
    if math.isnan(value) or math.isnan(baseline) or baseline == 0:
        return math.nan
    return 100.0 * (value - baseline) / abs(baseline)


_DAY = {"day", "baseline_day"}
_COUNT = {"n", "percent_change_n", "n_pairs", "n_warnings"}


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    """DataFrame with text columns as str ('' when empty), counts as int (nullable ``Int64``
    when some are missing), days as int when all are integers (else float) and every other
    column as float (NaN when missing)."""
    data = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if c in _TEXT:
            data[c] = pd.Series(["" if v is None else str(v) for v in values], dtype=object)
        elif c in _COUNT:
            missing = any(v is None for v in values)
            data[c] = pd.Series(values, dtype="Int64" if missing else "int64")
        elif c in _DAY and all(isinstance(v, int | np.integer) for v in values):
            data[c] = pd.Series(values, dtype="int64")
        else:
            data[c] = pd.Series([_number(v) for v in values], dtype="float64")
    return pd.DataFrame(data, columns=list(columns))


def _day_value(day):
    return int(day) if float(day).is_integer() else float(day)


def record_regions(record: Mapping) -> dict[str, Mapping]:
    """The metrics of a photo record per region, regions in natural order.

    ``record["regions"]`` ({region: {metric: value}}) when given and not empty, else
    ``{DEFAULT_REGION: record["metrics"]}``.
    """
    regions = record.get("regions") or {DEFAULT_REGION: record.get("metrics") or {}}
    return {name: regions[name] or {} for name in sorted(regions, key=natural_key)}


def measurements_table(records: Iterable[Mapping],
                       metric_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy long table of a batch: one row per photo, region and metric.

    Parameters
    ----------
    records : iterable of mapping
        One per photo, with keys ``patient``, ``visit``, ``day``, ``view``, ``arm``, ``photo``
        (file name relative to the visit folder), ``status`` (``"ok"`` or ``"error"``),
        ``message``, ``metrics`` ({name: value or None}), ``units`` ({name: unit}) and,
        optionally, ``regions`` ({region: {name: value or None}}; default
        ``{"whole": metrics}``, see :func:`record_regions`) and ``region_arms`` ({region:
        arm}, where a region's arm is not the photo's, e.g. the cheeks of a split-face
        whole-face photo). An errored photo has empty ``metrics``.
    metric_order : sequence of str, optional
        Metric order; default: order of first appearance over the records (the pipeline's).

    Returns
    -------
    DataFrame
        Columns :data:`MEASUREMENT_COLUMNS`; ordered by patient, day, view, region, then
        metric. An errored photo has one row with empty ``region`` and ``metric`` and NaN
        ``value``; a metric that could not be measured (None) has NaN ``value``.
    """
    records = _by_photo(records)
    order = list(metric_order or [])
    for r in records:
        for metrics in record_regions(r).values():
            order += [m for m in metrics if m not in order]
    rows = []
    for r in records:
        base = _photo_keys(r)
        units = r.get("units") or {}
        arms = r.get("region_arms") or {}
        if r["status"] != "ok":
            rows.append({**base, "region": "", "metric": "", "value": None, "unit": ""})
            continue
        rows += [{**base, "region": region, "arm": arms.get(region) or base["arm"],
                  "metric": m, "value": metrics[m], "unit": units.get(m, "")}
                 for region, metrics in record_regions(r).items() for m in order if m in metrics]
    return _frame(rows, MEASUREMENT_COLUMNS)


def _by_photo(records: Iterable[Mapping]) -> list[Mapping]:
    """Photo records by patient (natural order), day and view."""
    return sorted(records, key=lambda r: (natural_key(r["patient"]), r["day"],
                                          natural_key(r.get("view") or "")))


def _photo_keys(r: Mapping) -> dict:
    """The columns that name a photo record and its status, as the tables give them."""
    return {"patient": r["patient"], "visit": r["visit"], "day": _day_value(r["day"]),
            "view": r.get("view") or "", "arm": r.get("arm") or "", "photo": r["photo"],
            "status": r["status"], "message": r.get("message") or ""}


def photos_table(records: Iterable[Mapping]) -> pd.DataFrame:
    """One row per photo: its scale, colour calibration, registration and warnings, to
    check the captures (a failed registration, a chart not found, an estimated scale).

    Parameters
    ----------
    records : iterable of mapping
        One per photo, with the keys of :func:`measurements_table` (``patient`` ...
        ``message``) and ``record``: the photo's metrics.json (None when it failed).

    Returns
    -------
    DataFrame
        Columns :data:`PHOTO_COLUMNS`, ordered as :func:`measurements_table`: ``px_per_mm``
        and ``scale_source`` as in metrics.json; ``calibration`` the colour calibration's
        source and ``delta_e_mean`` its fit (mean CIEDE2000 over the chart's patches);
        for a follow-up compared with its baseline, ``registered`` (``yes`` / ``no``),
        the registration's ``registration_quality`` (correlation of the aligned photos),
        ``rotation_deg`` and ``relative_scale`` (all empty for a baseline or where no
        registration was tried; the last three also where it failed); ``warnings`` one line
        each, joined by `` | ``.
    """
    rows = []
    for r in _by_photo(records):
        rec = r.get("record") or {}
        calibration = rec.get("calibration") or {}
        alignment = rec.get("alignment") or {}
        registration = alignment.get("registration")
        warnings = rec.get("warnings") or []
        # None: a baseline, or a follow-up not registered (``--no-register``)
        registered = None if registration is None else alignment.get("registered")
        registration = registration or {}
        rows.append({
            **_photo_keys(r),
            "px_per_mm": rec.get("px_per_mm"), "scale_source": rec.get("scale_source"),
            "calibration": calibration.get("source"),
            "delta_e_mean": calibration.get("delta_e_mean"),
            "registered": None if registered is None else ("yes" if registered else "no"),
            "registration_quality": registration.get("quality") if registered else None,
            "rotation_deg": registration.get("rotation_deg") if registered else None,
            "relative_scale": registration.get("relative_scale") if registered else None,
            "n_warnings": len(warnings) if rec else None, "warnings": " | ".join(warnings)})
    return _frame(rows, PHOTO_COLUMNS)


def _metric_units(measurements: pd.DataFrame) -> dict[str, str]:
    """Metric -> unit, in the table's metric order."""
    units: dict[str, str] = {}
    for metric, unit in zip(measurements["metric"], measurements["unit"], strict=True):
        if metric and (metric not in units or not units[metric]):
            units[metric] = unit
    return units


def _index(measurements: pd.DataFrame):
    """Lookups of a measurements table: values per (patient, day, view, region, metric),
    the visit label of the photo per patient/day/view, the regions per patient/view and the
    arm per (patient, day, view, region)."""
    values: dict[tuple, float] = {}
    photos: dict[tuple, dict[str, str]] = defaultdict(dict)
    regions: dict[tuple, set[str]] = defaultdict(set)
    arms: dict[tuple, str] = {}
    for row in measurements.itertuples(index=False):
        photos[(row.patient, row.day)].setdefault(row.view, row.visit)
        if row.status == "ok" and row.metric:
            values[(row.patient, row.day, row.view, row.region, row.metric)] = _number(row.value)
            regions[(row.patient, row.view)].add(row.region)
            arms[(row.patient, row.day, row.view, row.region)] = row.arm
    return values, photos, regions, arms


def _region_arm(arms: Mapping[tuple, str], patient: str, days: Iterable, view: str,
                region: str) -> str:
    """The first non-empty arm of a patient's view and region over ``days``."""
    return next((arms[k] for day in days if arms.get(k := (patient, day, view, region))), "")


def _regions_of(regions: Mapping[tuple, set[str]], patient: str, view: str) -> list[str]:
    """Regions of one patient's view in natural order; :data:`DEFAULT_REGION` when none was
    measured (every photo of the view failed)."""
    return sorted(regions.get((patient, view)) or {DEFAULT_REGION}, key=natural_key)


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
        (patient, follow-up day, view, region, metric) -> the baseline's value measured over
        the part of the baseline that this follow-up shows (registered photos); used instead
        of the baseline photo's own value where given.

    Returns
    -------
    DataFrame
        Columns :data:`CHANGE_COLUMNS`; one row per patient, view, region, metric and
        compared visit at which the patient has a photo of that view (also when it failed:
        empty value), ordered by patient, view, region, metric, day. ``baseline_value`` is
        the same patient, view and region at the baseline visit (NaN when missing), or its
        paired value. The regions of a view are those measured in any of its photos.
    """
    units = _metric_units(measurements)
    values, photos, regions, arms = _index(measurements)
    rows = []
    for comp in sorted(comparisons, key=lambda c: natural_key(c.patient)):
        views = sorted({v for _, day in comp.visits for v in photos.get((comp.patient, day), {})},
                       key=natural_key)
        for view in views:
            for region in _regions_of(regions, comp.patient, view):
                for metric, unit in units.items():
                    rows += _change_rows(comp, view, region, metric, unit, values, photos,
                                         arms, paired_baselines)
    return _frame(rows, CHANGE_COLUMNS)


def _change_rows(comp: Comparison, view: str, region: str, metric: str, unit: str,
                 values: Mapping[tuple, float], photos: Mapping[tuple, dict],
                 arms: Mapping[tuple, str],
                 paired_baselines: Mapping[tuple, float | None] | None) -> list[dict]:
    """The change rows of one patient, view, region and metric (one per compared visit)."""
    base_own = values.get((comp.patient, comp.baseline_day, view, region, metric), math.nan)
    rows = []
    for label, day in sorted(comp.visits, key=lambda v: v[1]):
        here = photos.get((comp.patient, day), {})
        if view not in here:
            continue
        value = values.get((comp.patient, day, view, region, metric), math.nan)
        base = _paired(paired_baselines, (comp.patient, day, view, region, metric), base_own)
        arm = _region_arm(arms, comp.patient, (day, comp.baseline_day), view, region)
        rows.append({
            "patient": comp.patient, "view": view, "region": region, "arm": arm,
            "metric": metric, "unit": unit, "baseline_visit": comp.baseline_visit,
            "baseline_day": _day_value(comp.baseline_day), "visit": label,
            "day": _day_value(day), "baseline_value": base, "value": value,
            "change": value - base, "percent_change": percent_change(value, base),
        })
    return rows


def _paired(paired: Mapping[tuple, float | None] | None, key: tuple, own: float) -> float:
    """The paired baseline value for ``key`` when there is one, else ``own``."""
    if paired is None or key not in paired:
        return own
    return _number(paired[key])


def decimals(unit: str) -> int:
    """Decimals a value of ``unit`` is written with in the patient tables: none for counts
    and pixels, 3 for mm and mm2 (a crust is 0.01 mm2), else 2."""
    return 0 if unit in ("count", "px") else 3 if unit in ("mm", "mm2") else 2


def patient_table(measurements: pd.DataFrame, patient: str,
                  comparison: Comparison | None = None,
                  paired_baselines: Mapping[tuple, float | None] | None = None,
                  metric_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One patient's wide table, written so that a reader's own arithmetic agrees with it.

    Parameters
    ----------
    measurements : DataFrame
        From :func:`measurements_table` (other patients' rows are ignored).
    patient : str
    comparison : Comparison, optional
        The patient's baseline and compared visits (no change columns without one).
    paired_baselines : mapping, optional
        As in :func:`change_table`: the baseline measured over the skin a follow-up
        showed, which its change is taken from.
    metric_labels : mapping of str -> str, optional
        A short name per metric for the ``label`` column (the layers' declarations,
        :mod:`skinmetrics.methods`); empty for a metric without one.

    Returns
    -------
    DataFrame
        Columns :data:`PATIENT_KEY_COLUMNS`; one column per visit of the patient ordered by
        day (named by the visit label: the value over the photo's whole skin); then for
        every compared visit V of baseline B: ``baseline_for_V`` (the baseline over the same
        skin as V), ``change_V_vs_B`` = V - ``baseline_for_V`` and ``percent_change_V_vs_B``
        = 100 x change / ``baseline_for_V``. Values are rounded to :func:`decimals` of their
        unit and the change is taken from the rounded values, so that it is exactly the
        difference of the two cells beside it; % change to 0.1. One row per view, region
        and metric (every metric of the table, NaN where the photo is missing or failed).
    """
    units = _metric_units(measurements)
    mine = measurements[measurements["patient"] == patient]
    values, photos, regions, region_arms = _index(mine)
    days = sorted(set(mine["day"]))
    labels = {}
    for day in days:
        day_labels = set(photos[(patient, day)].values())
        labels[day] = "/".join(sorted(day_labels, key=natural_key))
    views = sorted(set(mine["view"]), key=natural_key)
    compared = comparison.visits if comparison else ()
    change_columns = [(label, day, f"baseline_for_{label}",
                       f"change_{label}_vs_{comparison.baseline_visit}",
                       f"percent_change_{label}_vs_{comparison.baseline_visit}")
                      for label, day in compared]
    rows = []
    for view in views:
        for region in _regions_of(regions, patient, view):
            for metric, unit in units.items():
                key = (view, region, metric)
                row = {"view": view, "region": region,
                       "arm": _region_arm(region_arms, patient, days, view, region),
                       "metric": metric, "label": (metric_labels or {}).get(metric, ""),
                       "unit": unit}
                places = decimals(unit)
                for day in days:
                    row[labels[day]] = round(values.get((patient, day, *key), math.nan), places)
                for _, day, base_col, change_col, pct_col in change_columns:
                    base = round(_paired(paired_baselines, (patient, day, *key),
                                         values.get((patient, comparison.baseline_day, *key),
                                                    math.nan)), places)
                    value = round(values.get((patient, day, *key), math.nan), places)
                    row[base_col] = base
                    row[change_col] = round(value - base, places)
                    row[pct_col] = round(percent_change(value, base), 1)
                rows.append(row)
    columns = (PATIENT_KEY_COLUMNS + [labels[d] for d in days]
               + [c for cols in change_columns for c in cols[2:]])
    return _frame(rows, columns)


def _stats(values: Sequence[float]) -> tuple[float, float]:
    """Mean and SD (n - 1); NaN when there are too few values."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean()) if arr.size else math.nan
    sd = float(arr.std(ddof=1)) if arr.size >= 2 else math.nan
    return mean, sd


def summary_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Over all patients: one row per view, region, arm, metric and follow-up visit.

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
        one visit label differ). Ordered by view, region, arm, metric, day.
    """
    order = {m: i for i, m in enumerate(dict.fromkeys(changes["metric"]))}
    groups: dict[tuple, list] = defaultdict(list)
    for row in changes.itertuples(index=False):
        groups[(row.view, row.region, row.arm, row.metric, row.visit)].append(row)
    rows = []
    for (view, region, arm, metric, visit), members in groups.items():
        pairs = [(r.baseline_value, r.value) for r in members
                 if not (math.isnan(r.baseline_value) or math.isnan(r.value))]
        base = [b for b, _ in pairs]
        value = [v for _, v in pairs]
        change = [v - b for b, v in pairs]
        pct = [r.percent_change for r in members if not math.isnan(r.percent_change)]
        row = {"view": view, "region": region, "arm": arm, "metric": metric,
               "unit": members[0].unit,
               "visit": visit, "day": _day_value(float(np.median([r.day for r in members]))),
               "n": len(pairs), "percent_change_n": len(pct),
               "percent_change_median": float(np.median(pct)) if pct else math.nan}
        for name, data in (("baseline", base), ("value", value), ("change", change),
                           ("percent_change", pct)):
            row[f"{name}_mean"], row[f"{name}_sd"] = _stats(data)
        rows.append(row)
    rows.sort(key=lambda r: (natural_key(r["view"]), natural_key(r["region"]),
                             natural_key(r["arm"]), order[r["metric"]], r["day"],
                             natural_key(r["visit"])))
    return _frame(rows, SUMMARY_COLUMNS)


def arm_pair(arms: Iterable[str]) -> tuple[str, str]:
    """Order two arms for a paired comparison: ``(arm_a, arm_b)``, difference = a - b.

    Arms named ``treatment`` and ``control`` (any case) give ``(treatment, control)``;
    otherwise the arm first in natural (alphabetical) order is the reference ``arm_b`` and the
    other is ``arm_a``.
    """
    first, second = sorted(set(arms), key=natural_key)
    if {first.lower(), second.lower()} == {"treatment", "control"}:
        return (first, second) if first.lower() == "treatment" else (second, first)
    return second, first


def paired_statistics(differences: Sequence[float]) -> dict:
    """Statistics of within-patient paired differences (arm_a - arm_b).

    Parameters
    ----------
    differences : sequence of float
        One per patient; NaN values are dropped.

    Returns
    -------
    dict
        ``n_pairs``; ``mean_difference``; ``sd_difference`` (n - 1, NaN for n < 2);
        ``ci95_low``, ``ci95_high``: mean -/+ t(0.975, n - 1) sd / sqrt(n) (NaN for n < 2);
        ``wilcoxon_p``: two-sided p of :func:`scipy.stats.wilcoxon` (``zero_method='wilcox'``:
        zero differences are dropped; NaN without pairs or when every difference is 0);
        ``note``: ``"no pairs"``, or why the test cannot show p < 0.05 (fewer than
        :data:`WILCOXON_MIN_N` pairs or non-zero differences), ``""`` otherwise.
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    out = {"n_pairs": n, "mean_difference": math.nan, "sd_difference": math.nan,
           "ci95_low": math.nan, "ci95_high": math.nan, "wilcoxon_p": math.nan, "note": ""}
    if n == 0:
        out["note"] = "no pairs"
        return out
    mean, sd = _stats(d)
    out["mean_difference"], out["sd_difference"] = mean, sd
    notes = []
    if n >= 2:
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        out["ci95_low"], out["ci95_high"] = mean - half, mean + half
    else:
        notes.append("n < 2: no SD or confidence interval")
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        notes.append("all differences are 0: no Wilcoxon test")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["wilcoxon_p"] = float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
        if n < WILCOXON_MIN_N:
            notes.append(f"n < {WILCOXON_MIN_N}: Wilcoxon signed-rank test cannot reach "
                         "p < 0.05")
        elif nonzero < WILCOXON_MIN_N:
            notes.append(f"fewer than {WILCOXON_MIN_N} non-zero differences: Wilcoxon "
                         "signed-rank test cannot reach p < 0.05")
    out["note"] = "; ".join(notes)
    return out


def _patient_arm_values(members: Sequence) -> dict[str, dict[str, dict[str, float]]]:
    """arm -> patient -> baseline, value, change and percent_change, each the mean over the
    patient's views in that arm (NaN when no view has it)."""
    by: dict[tuple[str, str], list] = defaultdict(list)
    for r in members:
        by[(r.arm, r.patient)].append(r)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (arm, patient), rows in by.items():
        pairs = [(r.baseline_value, r.value) for r in rows
                 if not (math.isnan(r.baseline_value) or math.isnan(r.value))]
        pct = [r.percent_change for r in rows if not math.isnan(r.percent_change)]
        base = float(np.mean([b for b, _ in pairs])) if pairs else math.nan
        value = float(np.mean([v for _, v in pairs])) if pairs else math.nan
        out[arm][patient] = {"baseline": base, "value": value, "change": value - base,
                             "percent_change": float(np.mean(pct)) if pct else math.nan}
    return out


def _group_row(per_patient: Mapping[str, Mapping[str, float]]) -> dict:
    """The ``group`` statistics of one arm over its patients."""
    paired = [v for v in per_patient.values() if not math.isnan(v["change"])]
    pct = [v["percent_change"] for v in per_patient.values()
           if not math.isnan(v["percent_change"])]
    row = {"n": len(paired), "percent_change_n": len(pct)}
    for name in ("baseline", "value", "change"):
        row[f"{name}_mean"], row[f"{name}_sd"] = _stats([v[name] for v in paired])
    row["percent_change_mean"], row["percent_change_sd"] = _stats(pct)
    return row


def _split_face_pairs(changes: pd.DataFrame) -> list[tuple[str, str]]:
    """The (arm_a, arm_b) pairs of patients photographed in two arms at the same visit."""
    arms: dict[tuple[str, str], set[str]] = defaultdict(set)
    for patient, visit, arm in zip(changes["patient"], changes["visit"], changes["arm"],
                                   strict=True):
        if arm:
            arms[(patient, visit)].add(arm)
    pairs = {arm_pair(p) for a in arms.values() for p in combinations(sorted(a), 2)}
    return sorted(pairs, key=lambda p: (natural_key(p[0]), natural_key(p[1])))


def cohort_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Cohort statistics per arm, region, metric and follow-up visit, and the paired
    within-patient comparison of arms in split-face designs.

    Parameters
    ----------
    changes : DataFrame
        From :func:`change_table`.

    Returns
    -------
    DataFrame
        Columns :data:`COHORT_COLUMNS`, two kinds of rows told apart by ``kind``; the columns
        of the other kind are empty.

        ``kind = "group"``: one row per region group (:data:`REGION_GROUPS`: ``cheek`` for
        both cheeks, else the region), metric, visit and ``arm`` (``""`` when the photos have
        no arm), views and the regions of a group pooled: a patient with several views or
        regions in one arm counts once, with the mean over them. ``n`` counts the patients
        with a baseline and a follow-up value; ``baseline_*``, ``value_*`` (follow-up) and
        ``change_*`` are the mean and SD over them; ``percent_change_*`` over the patients
        with a percent change (non-zero baseline). SDs use n - 1 and are empty for n < 2 (as in
        :func:`summary_table`).

        ``kind = "paired"``: only for split-face designs (some patient has photos or regions
        in two different arms at one visit, e.g. ``arm_left`` / ``arm_right`` in the
        manifest); for each region group holding either arm, metric, visit, pair of arms
        (``arm_a``, ``arm_b``, ordered by :func:`arm_pair`: ``treatment`` vs ``control``,
        else the other arm vs the alphabetically first) and ``quantity`` (``change``, in the
        metric's unit, or ``percent_change``, in percentage points): the per-patient difference
        d = quantity(arm_a) - quantity(arm_b) over the patients with both, summarised by
        :func:`paired_statistics` (``n_pairs``, ``mean_difference``, ``sd_difference``,
        ``ci95_low``, ``ci95_high``, ``wilcoxon_p``, ``note``). A negative mean difference
        means the quantity decreased more (or rose less) in arm_a.

        ``day`` is the visit's day (the median when patients' days differ). Ordered by
        region, metric (the table's order), day, visit, then the ``group`` rows by arm, then
        the ``paired`` rows by arm pair and quantity.
    """
    order = {m: i for i, m in enumerate(dict.fromkeys(changes["metric"]))}
    pairs = _split_face_pairs(changes)
    groups: dict[tuple, list] = defaultdict(list)
    for row in changes.itertuples(index=False):
        groups[(REGION_GROUPS.get(row.region, row.region), row.metric, row.visit)].append(row)
    rows = []
    for (region, metric, visit), members in groups.items():
        key = {"region": region, "metric": metric, "unit": members[0].unit, "visit": visit,
               "day": _day_value(float(np.median([r.day for r in members])))}
        values = _patient_arm_values(members)
        for arm in sorted(values, key=natural_key):
            rows.append({**key, "kind": "group", "arm": arm, **_group_row(values[arm])})
        for arm_a, arm_b in pairs:
            a, b = values.get(arm_a, {}), values.get(arm_b, {})
            if not (a or b):  # neither arm in this group (e.g. the forehead of a split face)
                continue
            for quantity in ("change", "percent_change"):
                d = [a[p][quantity] - b[p][quantity] for p in sorted(a, key=natural_key)
                     if p in b]
                rows.append({**key, "kind": "paired", "arm_a": arm_a, "arm_b": arm_b,
                             "quantity": quantity, **paired_statistics(d)})
    rows.sort(key=lambda r: (natural_key(r["region"]), order[r["metric"]], r["day"],
                             natural_key(r["visit"]), r["kind"] != "group",
                             natural_key(r.get("arm") or ""), natural_key(r.get("arm_a") or ""),
                             natural_key(r.get("arm_b") or ""), r.get("quantity") != "change"))
    return _frame(rows, COHORT_COLUMNS)


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
