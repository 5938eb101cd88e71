"""Result tables on hand-made records: formulas, missing values, statistics, CSV format."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from skinmetrics.tables import (
    CHANGE_COLUMNS,
    MEASUREMENT_COLUMNS,
    PHOTO_COLUMNS,
    SUMMARY_COLUMNS,
    change_table,
    csv_bytes,
    decimals,
    format_number,
    measurements_table,
    patient_table,
    percent_change,
    photos_table,
    record_regions,
    summary_table,
    write_csv,
)
from skinmetrics.visits import Comparison

UNITS = {"area_mm2": "mm2", "count": "count", "index": "EI"}
NAN = math.nan


def rec(patient, visit, day, metrics=None, view="", arm="", error=None):
    """A per-photo record as the batch builds it (metrics in pipeline order)."""
    return {"patient": patient, "visit": visit, "day": day, "view": view, "arm": arm,
            "photo": f"{patient}_{visit}{'_' + view if view else ''}.jpg",
            "status": "error" if error else "ok", "message": error or "",
            "metrics": metrics or {}, "units": UNITS if metrics else {}}


def m(area, count, index):
    return {"area_mm2": area, "count": count, "index": index}


# deliberately unordered: the tables must sort them
RECORDS = [
    rec("P10", "day28", 28, m(8.0, 3, 1.5)),
    rec("P01", "day14", 14, m(15.0, 0, None)),
    rec("P02", "day0", 0, m(0.0, 0, -2.0)),
    rec("P01", "day0", 0, m(10.0, 4, 2.0)),
    rec("P02", "day14", 14, error="P02_day14.jpg: truncated JPEG (no end-of-image marker)"),
    rec("P01", "day28", 28, m(5.0, 2, 1.0)),
    rec("P02", "day28", 28, m(3.0, 1, None)),
    rec("P10", "day0", 0, error="P10_day0.jpg: empty file (0 bytes)"),
]
COMPARISONS = [
    Comparison("P10", "day0", 0, (("day28", 28),)),
    Comparison("P01", "day0", 0, (("day14", 14), ("day28", 28))),
    Comparison("P02", "day0", 0, (("day14", 14), ("day28", 28))),
]


@pytest.fixture(scope="module")
def measurements():
    return measurements_table(RECORDS)


@pytest.fixture(scope="module")
def changes(measurements):
    return change_table(measurements, COMPARISONS)


def test_percent_change_formula():
    assert percent_change(15, 10) == 50.0
    assert percent_change(5, 10) == -50.0
    assert percent_change(0, 4) == -100.0
    # below 0 (ITA° of dark skin): the sign of the change, 100 (value - base) / |base|
    assert percent_change(-1, -2) == pytest.approx(50.0)
    assert percent_change(-30, -20) == pytest.approx(-50.0)
    assert percent_change(5, -10) == pytest.approx(150.0)
    assert math.isnan(percent_change(3, 0))
    assert math.isnan(percent_change(None, 10))
    assert math.isnan(percent_change(10, None))
    assert math.isnan(percent_change(float("inf"), 10))


def test_measurements_table(measurements):
    t = measurements
    assert list(t.columns) == MEASUREMENT_COLUMNS
    assert len(t) == 6 * 3 + 2  # six measured photos x 3 metrics + two errored photos
    keys = list(zip(t.patient, t.day, t.metric, strict=True))
    assert keys[:3] == [("P01", 0, "area_mm2"), ("P01", 0, "count"), ("P01", 0, "index")]
    assert [p for p, *_ in keys] == ["P01"] * 9 + ["P02"] * 7 + ["P10"] * 4
    err = t[t.status == "error"]
    assert list(err.patient) == ["P02", "P10"]
    assert list(err.metric) == ["", ""] and err.value.isna().all()
    assert list(err.region) == ["", ""]  # nothing measured: no region
    assert list(err.message) == ["P02_day14.jpg: truncated JPEG (no end-of-image marker)",
                                 "P10_day0.jpg: empty file (0 bytes)"]
    ok = t[t.status == "ok"]
    assert (ok.message == "").all()
    assert set(ok.region) == {"whole"}  # a close-up has the one region "whole"
    row = ok[(ok.patient == "P01") & (ok.day == 14) & (ok.metric == "index")]
    assert len(row) == 1 and math.isnan(row.value.item()) and row.unit.item() == "EI"
    assert t.loc[(t.patient == "P01") & (t.day == 0) & (t.metric == "count"), "value"].item() == 4


def test_change_table_formula(changes):
    t = changes
    assert list(t.columns) == CHANGE_COLUMNS
    assert len(t) == 3 * 2 + 3 * 2 + 3 * 1
    got = {(r.patient, r.metric, r.day): (r.baseline_value, r.value, r.change, r.percent_change)
           for r in t.itertuples()}

    def same(a, b):
        return all((math.isnan(x) and math.isnan(y)) or x == pytest.approx(y)
                   for x, y in zip(a, b, strict=True))

    expected = {
        ("P01", "area_mm2", 14): (10, 15, 5, 50),
        ("P01", "area_mm2", 28): (10, 5, -5, -50),
        ("P01", "count", 14): (4, 0, -4, -100),
        ("P01", "count", 28): (4, 2, -2, -50),
        ("P01", "index", 14): (2, NAN, NAN, NAN),      # follow-up value None
        ("P01", "index", 28): (2, 1, -1, -50),
        ("P02", "area_mm2", 14): (0, NAN, NAN, NAN),   # follow-up photo failed
        ("P02", "area_mm2", 28): (0, 3, 3, NAN),       # baseline 0: no percent change
        ("P02", "count", 28): (0, 1, 1, NAN),
        ("P02", "index", 28): (-2, NAN, NAN, NAN),
        ("P10", "area_mm2", 28): (NAN, 8, NAN, NAN),   # baseline photo failed
        ("P10", "count", 28): (NAN, 3, NAN, NAN),
    }
    for key, want in expected.items():
        assert same(got[key], want), (key, got[key], want)
    assert [(r.patient, r.metric, r.day) for r in t.itertuples()][:6] == [
        ("P01", "area_mm2", 14), ("P01", "area_mm2", 28), ("P01", "count", 14),
        ("P01", "count", 28), ("P01", "index", 14), ("P01", "index", 28)]
    assert set(t.baseline_visit) == {"day0"} and (t.baseline_day == 0).all()
    assert list(t[t.patient == "P01"].unit[:2]) == ["mm2", "mm2"]
    assert not np.isinf(t[["change", "percent_change"]].to_numpy(dtype=float)).any()


def test_region_column_is_whole_in_every_table(measurements, changes):
    assert set(changes.region) == {"whole"}
    assert set(summary_table(changes).region) == {"whole"}
    assert set(patient_table(measurements, "P01", COMPARISONS[1]).region) == {"whole"}
    assert record_regions({"metrics": {"a": 1}}) == {"whole": {"a": 1}}


def test_metrics_per_region():
    """A face photo carries metrics per region: one row per region, change per region."""
    def face(day, cheek, forehead, error=None):
        r = rec("F1", f"day{day}", day, m(cheek + forehead, 1, 1.0), view="front",
                error=error)
        if not error:
            r["regions"] = {"forehead": m(forehead, 1, 1.0), "cheek": m(cheek, 2, 2.0)}
        return r

    records = [face(28, 3.0, 8.0), face(0, 6.0, 10.0), face(14, 0, 0, error="bad file")]
    t = measurements_table(records)
    ok = t[t.status == "ok"]
    assert list(zip(ok.day, ok.region, ok.metric, strict=True))[:4] == [
        (0, "cheek", "area_mm2"), (0, "cheek", "count"), (0, "cheek", "index"),
        (0, "forehead", "area_mm2")]
    assert len(ok) == 2 * 2 * 3
    comp = Comparison("F1", "day0", 0, (("day14", 14), ("day28", 28)))
    c = change_table(t, [comp])
    area = c[c.metric == "area_mm2"]
    # the failed day14 photo still has a row per region (empty value)
    assert list(zip(area.region, area.day, area.baseline_value, strict=True)) == [
        ("cheek", 14, 6.0), ("cheek", 28, 6.0), ("forehead", 14, 10.0), ("forehead", 28, 10.0)]
    assert list(area.percent_change.iloc[[1, 3]]) == [-50.0, -20.0]
    assert area.value.iloc[[0, 2]].isna().all()
    paired = change_table(t, [comp], {("F1", 28, "front", "cheek", "area_mm2"): 4.0})
    assert paired[(paired.region == "cheek") & (paired.metric == "area_mm2")
                  & (paired.day == 28)].baseline_value.item() == 4.0
    wide = patient_table(t, "F1", comp)
    assert list(zip(wide.region, wide.metric, strict=True))[2:4] == [("cheek", "index"),
                                                                   ("forehead", "area_mm2")]
    assert list(wide[wide.metric == "area_mm2"].change_day28_vs_day0) == [-3.0, -2.0]
    s = summary_table(c)
    assert list(s[(s.metric == "area_mm2") & (s.visit == "day28")].region) == ["cheek",
                                                                               "forehead"]


def test_change_table_with_views_and_arms():
    records = [rec("S1", "day0", 0, m(4.0, 1, 1.0), view="left", arm="laser"),
               rec("S1", "day0", 0, m(2.0, 1, 1.0), view="right", arm="sham"),
               rec("S1", "day28", 28, m(1.0, 0, 1.0), view="left", arm="laser"),
               rec("S1", "day28", 28, m(3.0, 1, 1.0), view="right", arm="sham")]
    t = change_table(measurements_table(records), [Comparison("S1", "day0", 0,
                                                              (("day28", 28),))])
    area = t[t.metric == "area_mm2"]
    assert list(zip(area.view, area.arm, area.change, area.percent_change, strict=True)) == [
        ("left", "laser", -3.0, -75.0), ("right", "sham", 1.0, 50.0)]


def test_patient_table(measurements):
    comp = {c.patient: c for c in COMPARISONS}
    t = patient_table(measurements, "P01", comp["P01"],
                      metric_labels={"count": "Things (count)"})
    assert list(t.columns) == ["view", "region", "arm", "metric", "label", "unit", "day0", "day14",
                               "day28", "baseline_for_day14", "change_day14_vs_day0",
                               "percent_change_day14_vs_day0", "baseline_for_day28",
                               "change_day28_vs_day0", "percent_change_day28_vs_day0"]
    assert set(t.region) == {"whole"}
    assert list(t.metric) == ["area_mm2", "count", "index"]
    assert list(t.label) == ["", "Things (count)", ""]
    assert list(t.day0) == [10, 4, 2] and list(t.day28) == [5, 2, 1]
    assert t.day14.iloc[2] != t.day14.iloc[2]  # None -> NaN
    assert list(t.change_day28_vs_day0) == [-5, -2, -1]  # every compared visit
    assert list(t.percent_change_day28_vs_day0) == [-50, -50, -50]
    assert list(t.change_day14_vs_day0[:2]) == [5, -4]
    # the change is from the baseline over the skin the follow-up showed, which is shown
    paired = patient_table(measurements, "P01", comp["P01"],
                           {("P01", 28, "", "whole", "area_mm2"): 8.0})
    row = paired[paired.metric == "area_mm2"].iloc[0]
    assert (row.day0, row.baseline_for_day28, row.change_day28_vs_day0) == (10, 8.0, -3.0)
    assert row.percent_change_day28_vs_day0 == -37.5
    # baseline photo failed: visit columns still there, change empty
    t10 = patient_table(measurements, "P10", comp["P10"])
    assert list(t10.columns)[6:8] == ["day0", "day28"]
    assert t10.day0.isna().all() and t10.change_day28_vs_day0.isna().all()
    assert list(t10.day28) == [8, 3, 1.5]
    # no comparison (patient without baseline): no change columns
    assert list(patient_table(measurements, "P02").columns)[6:] == ["day0", "day14", "day28"]


def test_patient_table_values_are_rounded_by_unit():
    assert (decimals("count"), decimals("px"), decimals("mm2"), decimals("CIELAB a*")) == (
        0, 0, 3, 2)


def test_summary_statistics_against_numpy(changes):
    s = summary_table(changes)
    assert list(s.columns) == SUMMARY_COLUMNS
    assert [(r.metric, r.visit) for r in s.itertuples()] == [
        ("area_mm2", "day14"), ("area_mm2", "day28"), ("count", "day14"), ("count", "day28"),
        ("index", "day14"), ("index", "day28")]
    row = s[(s.metric == "area_mm2") & (s.visit == "day28")].iloc[0]
    base, value = np.array([10.0, 0.0]), np.array([5.0, 3.0])  # P01, P02 (P10 has no baseline)
    assert row.n == 2 and row.day == 28 and row.unit == "mm2"
    assert row.baseline_mean == pytest.approx(base.mean())
    assert row.baseline_sd == pytest.approx(base.std(ddof=1))
    assert row.value_mean == pytest.approx(value.mean())
    assert row.value_sd == pytest.approx(value.std(ddof=1))
    assert row.change_mean == pytest.approx((value - base).mean())
    assert row.change_sd == pytest.approx((value - base).std(ddof=1))
    assert row.percent_change_n == 1  # P02's baseline is 0
    assert row.percent_change_mean == -50 and row.percent_change_median == -50
    assert math.isnan(row.percent_change_sd)  # SD needs n >= 2

    row = s[(s.metric == "count") & (s.visit == "day28")].iloc[0]
    pct = np.array([-50.0])
    assert row.n == 2 and row.percent_change_n == 1
    assert row.percent_change_median == pytest.approx(np.median(pct))
    assert row.change_mean == pytest.approx(np.mean([-2.0, 1.0]))

    row = s[(s.metric == "area_mm2") & (s.visit == "day14")].iloc[0]
    assert row.n == 1 and row.baseline_mean == 10 and math.isnan(row.baseline_sd)
    assert math.isnan(row.value_sd) and math.isnan(row.change_sd)

    row = s[(s.metric == "index") & (s.visit == "day14")].iloc[0]
    assert row.n == 0 and math.isnan(row.baseline_mean) and math.isnan(row.percent_change_median)


def test_summary_three_patients_median_and_sd():
    base, follow = [4.0, 8.0, 5.0], [2.0, 2.0, 6.0]
    records, comps = [], []
    for i, (b, f) in enumerate(zip(base, follow, strict=True)):
        pid = f"P{i + 1}"
        records += [rec(pid, "day0", 0, m(b, 1, 1.0)), rec(pid, "week4", 28, m(f, 1, 1.0))]
        comps.append(Comparison(pid, "day0", 0, (("week4", 28),)))
    s = summary_table(change_table(measurements_table(records), comps))
    row = s[s.metric == "area_mm2"].iloc[0]
    pct = 100 * (np.array(follow) - base) / np.array(base)
    assert (row.visit, row.day, row.n, row.percent_change_n) == ("week4", 28, 3, 3)
    assert row.percent_change_mean == pytest.approx(pct.mean())
    assert row.percent_change_sd == pytest.approx(pct.std(ddof=1))
    assert row.percent_change_median == pytest.approx(np.median(pct))
    assert row.change_sd == pytest.approx((np.array(follow) - base).std(ddof=1))


@pytest.mark.parametrize("value, text", [
    (3, "3"), (np.int64(5), "5"), (3.0, "3"), (0.1 + 0.2, "0.3"), (1 / 3, "0.333333"),
    (-2 / 3, "-0.666667"), (123456.7, "123457"), (1234567.4, "1234567"), (1.5e-7, "0.00000015"),
    (2.5e-3, "0.0025"), (np.float32(0.5), "0.5"), (-0.0, "0"), (float("nan"), ""),
    (float("inf"), ""), (float("-inf"), ""), (None, ""), (pd.NA, ""), ("text", "text"),
    (12000.0, "12000"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_csv_format(tmp_path, measurements, changes):
    for table, columns in ((measurements, MEASUREMENT_COLUMNS), (changes, CHANGE_COLUMNS),
                           (summary_table(changes), SUMMARY_COLUMNS)):
        path = tmp_path / "t.csv"
        write_csv(path, table)
        raw = path.read_bytes()
        assert raw == csv_bytes(table)
        text = raw.decode("utf-8")
        assert text.splitlines()[0] == ",".join(columns)
        lowered = text.lower()
        for bad in ("nan", "inf", "none", "e-0", "e+0", "\r"):
            assert bad not in lowered
        back = pd.read_csv(io.StringIO(text), keep_default_na=False)
        assert list(back.columns) == columns and len(back) == len(table)
        numeric = pd.read_csv(io.StringIO(text))
        for col in columns:
            if table[col].dtype.kind in "if":
                np.testing.assert_allclose(numeric[col].to_numpy(float),
                                           table[col].to_numpy(float), rtol=1e-5,
                                           equal_nan=True)
    lines = csv_bytes(changes).decode().splitlines()
    assert lines[1] == "P01,,whole,,area_mm2,mm2,day0,0,day14,14,10,15,5,50"
    assert "P02,,whole,,area_mm2,mm2,day0,0,day28,28,0,3,3," in lines
    m_lines = csv_bytes(measurements).decode().splitlines()
    assert "P01,day0,0,,whole,,count,4,count,P01_day0.jpg,ok," in m_lines
    assert "P01,day14,14,,whole,,index,,EI,P01_day14.jpg,ok," in m_lines
    assert ("P10,day0,0,,,,,,,P10_day0.jpg,error,P10_day0.jpg: empty file (0 bytes)"
            in m_lines)


def test_csv_quotes_text_with_commas():
    t = measurements_table([rec("P1", "day0", 0, error='bad, "odd" file')])
    line = csv_bytes(t).decode().splitlines()[1]
    assert line.endswith(',error,"bad, ""odd"" file"')
    assert pd.read_csv(io.StringIO(csv_bytes(t).decode())).message[0] == 'bad, "odd" file'


def test_photos_table_shows_how_each_photo_was_measured():
    def photo(visit, day, status="ok", record=None, message=""):
        return {"patient": "P1", "visit": visit, "day": day, "view": "", "arm": "",
                "photo": f"P1_{visit}.jpg", "status": status, "message": message,
                "record": record}

    chart = {"source": "chart", "delta_e_mean": 2.5}
    rows = [
        photo("d28", 28, record={"px_per_mm": 20.0, "scale_source": "flag",
                                 "calibration": {"source": "none"}, "warnings": [],
                                 "alignment": {"registered": False, "registration": {
                                     "ok": False, "quality": 0.1}}}),
        photo("d0", 0, record={"px_per_mm": 21.3, "scale_source": "chart", "calibration": chart,
                               "alignment": None, "warnings": ["a", "b"]}),
        photo("d14", 14, record={"px_per_mm": None, "scale_source": "none", "calibration": chart,
                                 "warnings": [], "alignment": {"registered": True, "registration": {
                                     "quality": 0.71, "rotation_deg": 2.0,
                                     "relative_scale": 1.02}}}),
        photo("d42", 42, status="error", message="P1_d42.jpg: not an image"),
        photo("d56", 56, record={"px_per_mm": 20.0, "scale_source": "flag", "warnings": [],
                                 "calibration": {"source": "none"},
                                 "alignment": {"registered": False, "registration": None}}),
    ]
    t = photos_table(rows)
    assert list(t.columns) == PHOTO_COLUMNS
    assert list(t.visit) == ["d0", "d14", "d28", "d42", "d56"]  # by day
    assert list(t.px_per_mm.fillna(-1)) == [21.3, -1, 20.0, -1, 20.0]
    assert list(t.scale_source) == ["chart", "none", "flag", "", "flag"]
    assert list(t.calibration) == ["chart", "chart", "none", "", "none"]
    assert list(t.delta_e_mean.fillna(-1)) == [2.5, 2.5, -1, -1, -1]
    # a baseline is not registered, nor a follow-up without registration (--no-register);
    # a failed registration shows no quality
    assert list(t.registered) == ["", "yes", "no", "", ""]
    assert list(t.registration_quality.fillna(-1)) == [-1, 0.71, -1, -1, -1]
    assert list(t.rotation_deg.fillna(-1)) == [-1, 2.0, -1, -1, -1]
    assert list(t.relative_scale.fillna(-1)) == [-1, 1.02, -1, -1, -1]
    assert t.n_warnings.tolist()[:3] == [2, 0, 0] and pd.isna(t.n_warnings.iloc[3])
    assert list(t.warnings) == ["a | b", "", "", "", ""]
    assert list(t.status) == ["ok", "ok", "ok", "error", "ok"]
    assert t.message.iloc[3].endswith("image")
