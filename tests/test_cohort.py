"""Cohort statistics (cohort_stats.csv): group statistics per arm, and the paired
within-patient comparison of the arms of split-face designs, on hand-made change rows and end
to end on a small split-face phantom study."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skinmetrics.batch import run_batch
from skinmetrics.synthetic import make_phantom
from skinmetrics.tables import (
    CHANGE_COLUMNS,
    COHORT_COLUMNS,
    arm_pair,
    cohort_table,
    csv_bytes,
    paired_statistics,
    percent_change,
)

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

# six split-face patients: treatment (left) and control (right), plus P7 (treatment only)
T_BASE = [10.0, 12.0, 8.0, 9.0, 11.0, 10.0]
T_CHANGE = [-5.0, -5.5, -4.0, -3.0, -6.0, -4.2]
C_BASE = [10.0, 11.0, 9.0, 9.0, 12.0, 10.0]
C_CHANGE = [-1.0, -0.5, -1.5, 0.0, -2.3, 1.0]


def row(patient, view, arm, visit, day, base, value, metric="area_mm2", region="whole"):
    return {"patient": patient, "view": view, "region": region, "arm": arm, "metric": metric,
            "unit": "mm2", "baseline_visit": "day0", "baseline_day": 0, "visit": visit,
            "day": day, "baseline_value": base, "value": value, "change": value - base,
            "percent_change": percent_change(value, base)}


def changes_frame(rows):
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


@pytest.fixture(scope="module")
def split_face():
    rows = []
    for i in range(6):
        pid = f"P{i + 1}"
        rows.append(row(pid, "left", "treatment", "day28", 28, T_BASE[i],
                        T_BASE[i] + T_CHANGE[i]))
        rows.append(row(pid, "right", "control", "day28", 28, C_BASE[i],
                        C_BASE[i] + C_CHANGE[i]))
    rows.append(row("P7", "left", "treatment", "day28", 28, 20.0, 10.0))
    for i in range(3):  # day14: three pairs only
        pid = f"P{i + 1}"
        rows.append(row(pid, "left", "treatment", "day14", 14, T_BASE[i], T_BASE[i] - 1 - i))
        rows.append(row(pid, "right", "control", "day14", 14, C_BASE[i], C_BASE[i] + 0.5))
    rows.append(row("P7", "left", "treatment", "day56", 56, 20.0, 8.0))  # no pairs
    return cohort_table(changes_frame(rows))


def pick(table, **keys):
    mask = np.ones(len(table), dtype=bool)
    for k, v in keys.items():
        mask &= table[k] == v
    assert mask.sum() == 1, keys
    return table[mask].iloc[0]


def test_cohort_layout_and_order(split_face):
    t = split_face
    assert list(t.columns) == COHORT_COLUMNS
    assert [(r.visit, r.kind, r.arm, r.quantity) for r in t.itertuples()] == [
        ("day14", "group", "control", ""), ("day14", "group", "treatment", ""),
        ("day14", "paired", "", "change"), ("day14", "paired", "", "percent_change"),
        ("day28", "group", "control", ""), ("day28", "group", "treatment", ""),
        ("day28", "paired", "", "change"), ("day28", "paired", "", "percent_change"),
        ("day56", "group", "treatment", ""),
        ("day56", "paired", "", "change"), ("day56", "paired", "", "percent_change")]
    paired = t[t.kind == "paired"]
    assert set(zip(paired.arm_a, paired.arm_b, strict=True)) == {("treatment", "control")}
    group = t[t.kind == "group"]
    assert (group.arm_a == "").all() and group.n_pairs.isna().all()
    assert group.mean_difference.isna().all() and (group.note == "").all()
    assert paired.n.isna().all() and paired.baseline_mean.isna().all()
    assert set(t.region) == {"whole"} and set(t.unit) == {"mm2"}


def test_group_statistics_match_numpy(split_face):
    r = pick(split_face, kind="group", arm="treatment", visit="day28")
    base = np.array(T_BASE + [20.0])
    value = base + np.array(T_CHANGE + [-10.0])
    pct = 100 * (value - base) / base
    assert (r.n, r.percent_change_n, r.day) == (7, 7, 28)
    assert r.baseline_mean == pytest.approx(base.mean())
    assert r.baseline_sd == pytest.approx(base.std(ddof=1))
    assert r.value_mean == pytest.approx(value.mean())
    assert r.value_sd == pytest.approx(value.std(ddof=1))
    assert r.change_mean == pytest.approx((value - base).mean())
    assert r.change_sd == pytest.approx((value - base).std(ddof=1))
    assert r.percent_change_mean == pytest.approx(pct.mean())
    assert r.percent_change_sd == pytest.approx(pct.std(ddof=1))
    c = pick(split_face, kind="group", arm="control", visit="day28")
    assert c.n == 6 and c.change_mean == pytest.approx(np.mean(C_CHANGE))
    one = pick(split_face, kind="group", arm="treatment", visit="day56")
    assert one.n == 1 and one.change_mean == -12.0 and math.isnan(one.change_sd)


def test_paired_difference_ci_and_wilcoxon(split_face):
    d = np.array(T_CHANGE) - np.array(C_CHANGE)  # [-4, -5, -2.5, -3, -3.7, -5.2]
    r = pick(split_face, kind="paired", visit="day28", quantity="change")
    n, mean, sd = 6, d.mean(), d.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert r.n_pairs == 6  # P7 has no control side
    assert r.mean_difference == pytest.approx(mean)
    assert r.sd_difference == pytest.approx(sd)
    assert (r.ci95_low, r.ci95_high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    p = stats.wilcoxon(d, zero_method="wilcox").pvalue
    assert r.wilcoxon_p == pytest.approx(p)
    assert r.wilcoxon_p == pytest.approx(2 / 2**6)  # exact: all six differences negative
    assert r.note == ""

    pct_t = 100 * np.array(T_CHANGE) / np.array(T_BASE)
    pct_c = 100 * np.array(C_CHANGE) / np.array(C_BASE)
    r = pick(split_face, kind="paired", visit="day28", quantity="percent_change")
    assert r.n_pairs == 6
    assert r.mean_difference == pytest.approx((pct_t - pct_c).mean())
    assert r.sd_difference == pytest.approx((pct_t - pct_c).std(ddof=1))
    assert r.wilcoxon_p == pytest.approx(stats.wilcoxon(pct_t - pct_c).pvalue)


def test_small_n_and_no_pairs_notes(split_face):
    r = pick(split_face, kind="paired", visit="day14", quantity="change")
    d = np.array([-1.0, -2.0, -3.0]) - 0.5
    assert r.n_pairs == 3 and r.mean_difference == pytest.approx(d.mean())
    assert r.wilcoxon_p == pytest.approx(0.25)  # 2 / 2^3: the smallest p with three pairs
    assert r.note == "n < 6: Wilcoxon signed-rank test cannot reach p < 0.05"
    r = pick(split_face, kind="paired", visit="day56", quantity="change")
    assert r.n_pairs == 0 and r.note == "no pairs"
    assert math.isnan(r.mean_difference) and math.isnan(r.wilcoxon_p)


def test_paired_statistics_edge_cases():
    one = paired_statistics([2.0, math.nan])
    assert one["n_pairs"] == 1 and one["mean_difference"] == 2.0
    assert math.isnan(one["sd_difference"]) and math.isnan(one["ci95_low"])
    assert one["note"].startswith("n < 2: no SD or confidence interval; n < 6")
    zeros = paired_statistics([0.0] * 7)
    assert math.isnan(zeros["wilcoxon_p"])
    assert zeros["note"] == "all differences are 0: no Wilcoxon test"
    few = paired_statistics([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, -5.0])
    assert few["note"].startswith("fewer than 6 non-zero differences")


def test_arm_pair_order():
    assert arm_pair(["control", "treatment"]) == ("treatment", "control")
    assert arm_pair(["Treatment", "Control"]) == ("Treatment", "Control")
    # otherwise the alphabetically first arm is the reference (arm_b)
    assert arm_pair(["sham", "laser"]) == ("sham", "laser")
    assert arm_pair(["B", "A"]) == ("B", "A")


def test_no_arms_means_no_paired_rows_and_views_pooled():
    rows = [row("P1", "left", "", "day28", 28, 10.0, 5.0),
            row("P1", "right", "", "day28", 28, 20.0, 15.0),
            row("P2", "left", "", "day28", 28, 4.0, 4.0)]
    t = cohort_table(changes_frame(rows))
    assert list(t.kind) == ["group"] and t.arm.item() == ""
    r = t.iloc[0]
    # P1 counts once with the mean of its two views (baseline 15, change -5)
    assert r.n == 2 and r.baseline_mean == pytest.approx((15 + 4) / 2)
    assert r.change_mean == pytest.approx(-2.5)
    assert r.percent_change_mean == pytest.approx(((-50 - 25) / 2 + 0) / 2)
    assert list(cohort_table(changes_frame([])).columns) == COHORT_COLUMNS


def test_cohort_csv_is_plain(split_face):
    text = csv_bytes(split_face).decode()
    assert text.splitlines()[0] == ",".join(COHORT_COLUMNS)
    assert "nan" not in text.lower() and "<na>" not in text.lower()
    back = pd.read_csv(io.StringIO(text))
    assert list(back.columns) == COHORT_COLUMNS and len(back) == len(split_face)
    np.testing.assert_allclose(back.mean_difference, split_face.mean_difference.astype(float),
                               rtol=1e-5, equal_nan=True)
    line = text.splitlines()[1]  # day14 control group row: paired cells empty
    assert line.startswith("group,whole,area_mm2,mm2,day14,14,control,3,")
    assert line.endswith(",,,,,,,,,,")


# --- end to end: a split-face phantom study ------------------------------------------------

def test_split_face_run_end_to_end(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    lines = ["path,patient,visit,day,view,arm_left,arm_right"]
    truth = {}
    for i in range(3):
        pid = f"S{i + 1}"
        left, right = ("treatment", "control") if i % 2 == 0 else ("control", "treatment")
        for side, arm in (("left", left), ("right", right)):
            seed = 100 * i + (1 if side == "left" else 2)
            for day in (0, 28):
                erythema = 1.0 if day == 0 else (0.4 if arm == "treatment" else 0.8)
                ph = make_phantom((480, 640), 25.0, 60.0, seed=seed, capture_seed=seed + day,
                                  erythema=erythema)
                name = f"{pid}_{side}_{day}.jpg"
                (folder / name).write_bytes(ph.jpeg)
                truth[pid, side, day] = ph.truth["erythema_area_mm2"]
                lines.append(f"{name},{pid},day{day},{day},{side},{left},{right}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = run_batch(folder, out, "laser_recovery", jobs=1, px_per_mm=25, chart="none")
    assert result.exit_code == 0
    assert {(r.photo.patient, r.photo.view, r.photo.arm) for r in result.results} >= {
        ("S1", "left", "treatment"), ("S2", "left", "control"), ("S2", "right", "treatment")}
    cohort = pd.read_csv(out / "cohort_stats.csv", keep_default_na=False)
    assert list(cohort.columns) == COHORT_COLUMNS
    r = cohort[(cohort.kind == "paired") & (cohort.metric == "erythema_area_mm2")
               & (cohort.quantity == "percent_change")]
    assert len(r) == 1
    r = r.iloc[0]
    assert (r.arm_a, r.arm_b, r.region, r.visit, int(r.n_pairs)) == (
        "treatment", "control", "whole", "day28", 3)
    assert float(r.mean_difference) < -20  # treatment fades faster: more negative
    assert r.wilcoxon_p != "" and 0 < float(r.wilcoxon_p) <= 1
    assert r.note == "n < 6: Wilcoxon signed-rank test cannot reach p < 0.05"
    groups = cohort[(cohort.kind == "group") & (cohort.metric == "erythema_area_mm2")]
    means = dict(zip(groups.arm, groups.percent_change_mean.astype(float), strict=True))
    assert means["treatment"] < means["control"] < 0
    meas = pd.read_csv(out / "measurements.csv", keep_default_na=False)
    assert set(meas.region) == {"whole"}
    # every side's change row matches the phantom truth within 5 percentage points
    changes = pd.read_csv(out / "change_from_baseline.csv")
    rows = changes[changes.metric == "erythema_area_mm2"]
    assert len(rows) == 6
    for row in rows.itertuples():
        true_pct = 100 * (truth[row.patient, row.view, 28] / truth[row.patient, row.view, 0] - 1)
        assert abs(row.percent_change - true_pct) <= 5.0, (row.patient, row.view)
