"""Finding the visits: file-name grammar, sub-folders, manifest, comparisons, dry run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skinmetrics.cli import app
from skinmetrics.visits import (
    VIEWS,
    VisitError,
    discover,
    parse_name,
    parse_visit,
    plan_comparisons,
    read_manifest,
    resolve_visit,
)


def touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded by discovery")


# --- visits and names ---------------------------------------------------------------------

@pytest.mark.parametrize("text, label, day", [
    ("day0", "day0", 0), ("day00", "day0", 0), ("d0", "day0", 0), ("D00", "day0", 0),
    ("DAY0", "day0", 0), ("baseline", "baseline", 0), ("Baseline", "baseline", 0),
    ("bl", "baseline", 0), ("BL", "baseline", 0), ("day14", "day14", 14), ("d14", "day14", 14),
    ("Day014", "day14", 14), ("week4", "week4", 28), ("w4", "week4", 28), ("WK4", "week4", 28),
    ("week1", "week1", 7), ("month3", "month3", 84), ("m3", "month3", 84),
    ("Month1", "month1", 28), ("day365", "day365", 365),
])
def test_parse_visit_spellings(text, label, day):
    assert parse_visit(text) == (label, day)


@pytest.mark.parametrize("text", ["visit1", "v1", "day", "d", "week", "dayx", "day-3", "14",
                                  "", "base", "followup", "day1.5", "y1", "day 1"])
def test_parse_visit_refuses(text):
    with pytest.raises(ValueError, match="unknown visit"):
        parse_visit(text)


@pytest.mark.parametrize("name, patient, visit, day, view", [
    ("P01_day0.jpg", "P01", "day0", 0, ""),
    ("P01_day00.jpg", "P01", "day0", 0, ""),
    ("P01_d0.JPG", "P01", "day0", 0, ""),
    ("P01_baseline.png", "P01", "baseline", 0, ""),
    ("P01_bl_front.jpeg", "P01", "baseline", 0, "front"),
    ("P01_day14_left.JPEG", "P01", "day14", 14, "left"),
    ("P01_d14_Right.tif", "P01", "day14", 14, "right"),
    ("subj-7_week4_left45.TIFF", "subj-7", "week4", 28, "left45"),
    ("subj-7_w4_RIGHT45.Tif", "subj-7", "week4", 28, "right45"),
    ("p01_month3_front.png", "p01", "month3", 84, "front"),
    ("007_DAY28.jpg", "007", "day28", 28, ""),
    ("A-1-b_d7.jpg", "A-1-b", "day7", 7, ""),
])
def test_parse_name_accepts(name, patient, visit, day, view):
    parsed = parse_name(name)
    assert (parsed.patient, parsed.visit, parsed.day, parsed.view) == (patient, visit, day, view)


@pytest.mark.parametrize("name, reason", [
    ("P01.jpg", "no '_'"),                                 # no visit
    ("P01-day0.jpg", "no '_'"),                            # '-' is not the separator
    ("P01_visit1.jpg", "unknown visit 'visit1'"),          # unknown visit word
    ("P01_front.jpg", "unknown visit 'front'"),            # view without visit
    ("P01_day0_top.jpg", "unknown view 'top'"),            # unknown view
    ("P01_day0_front_2.jpg", "too many"),                  # too many parts
    ("subj_7_day0.jpg", "unknown visit '7'"),              # '_' inside a patient id
    ("P01__day0.jpg", "empty part"),                       # doubled separator
    ("_day0.jpg", "empty part"),
    ("P01_day0_.jpg", "empty part"),
    ("P01 _day0.jpg", "letters, digits, and spaces"),
    ("-P01_day0.jpg", "letters, digits, and spaces"),
    ("P01_day0.gif", "not an image"),
])
def test_parse_name_refuses(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_name(name)


def test_unknown_view_lists_the_accepted_views():
    with pytest.raises(ValueError) as info:
        parse_name("P01_day0_side.jpg")
    assert all(view in str(info.value) for view in VIEWS)


def test_parse_name_in_patient_folder():
    assert parse_name("day0_front.jpg", "subj-7").patient == "subj-7"
    assert parse_name("subj-7_day14.jpg", "subj-7").visit == "day14"
    assert parse_name("W4.png", "P01").day == 28
    with pytest.raises(ValueError, match="not the folder's 'P01'"):
        parse_name("P02_day0.jpg", "P01")
    with pytest.raises(ValueError, match="unknown visit"):
        parse_name("visit2.jpg", "P01")


# --- discovery -----------------------------------------------------------------------------

def test_discover_flat_folder(tmp_path):
    touch(tmp_path, "P10_day0.jpg", "P2_day14.JPG", "P2_day0.jpg", "P2_w4_front.png",
          "ground_truth.csv", "README.md", "notes.txt", ".DS_Store", "._P2_day0.jpg",
          "holiday.jpg", "P2_day0_top.jpg", "P2_day28.HEIC", "P2_day28.dng")
    vs = discover(tmp_path)
    assert [(p.patient, p.visit, p.day, p.view) for p in vs.photos] == [
        ("P2", "day0", 0, ""), ("P2", "day14", 14, ""), ("P2", "week4", 28, "front"),
        ("P10", "day0", 0, ""),
    ]
    assert [p.stem for p in vs.photos] == ["P2_day0", "P2_day14", "P2_w4_front", "P10_day0"]
    assert [name for name, _ in vs.unparseable] == [
        "holiday.jpg", "P2_day0_top.jpg", "P2_day28.dng", "P2_day28.HEIC"]
    assert "unknown view 'top'" in vs.unparseable[1][1]
    # a phone's or camera's own format is not read, and says so
    assert vs.unparseable[3][1] == ("HEIC photos are not read: export them as JPEG (quality 95 "
                                    "or more), 16-bit TIFF or PNG")
    assert vs.patients == ["P2", "P10"]
    assert vs.manifest is None


@pytest.mark.parametrize("with_manifest", [False, True])
def test_an_earlier_runs_results_in_the_folder_are_not_searched(tmp_path, with_manifest):
    touch(tmp_path, "P1_day0.jpg", "P1_day14.jpg", "old/run.json", "old/photos/P1_day0/overlay.jpg",
          "old/photos/P1_day0/masks/roi.png", "P2/day0.jpg", "P2/extra/day14.jpg")
    if with_manifest:
        write_manifest(tmp_path, "path,patient,visit,day\nP1_day0.jpg,P1,V0,0\n"
                       "P2/day0.jpg,P2,V0,0\n")
    vs = discover(tmp_path)
    assert [p.file for p in vs.photos] == (["P1_day0.jpg", "P2/day0.jpg"] if with_manifest else
                                           ["P1_day0.jpg", "P1_day14.jpg", "P2/day0.jpg"])
    unused = {"P2/extra/day14.jpg": "not listed in manifest.csv" if with_manifest
              else "more than one sub-folder deep (expected <patient>/<name>)",
              "old/": "the results of a skinmetrics run, not searched for photos"}
    if with_manifest:
        unused["P1_day14.jpg"] = "not listed in manifest.csv"
    assert dict(vs.unparseable) == unused


def test_discover_patient_subfolders_and_stem_collisions(tmp_path):
    touch(tmp_path, "P01/P01_day0.jpg", "P01/day14.jpg", "P02/day0.jpg", "P02/day14.jpg",
          "subj-7/d0_front.jpg", "subj-7/subj-7_d28_front.jpg", "P01/extra/P01_day28.jpg",
          "P03/P04_day0.jpg", "bad name./x_day0.jpg")
    vs = discover(tmp_path)
    got = [(p.file, p.patient, p.visit, p.view, p.stem) for p in vs.photos]
    assert got == [
        ("P01/P01_day0.jpg", "P01", "day0", "", "P01_day0"),
        ("P01/day14.jpg", "P01", "day14", "", "P01_day14"),
        ("P02/day0.jpg", "P02", "day0", "", "day0"),  # no collision: stem kept
        ("P02/day14.jpg", "P02", "day14", "", "P02_day14"),
        ("subj-7/d0_front.jpg", "subj-7", "day0", "front", "d0_front"),
        ("subj-7/subj-7_d28_front.jpg", "subj-7", "day28", "front", "subj-7_d28_front"),
    ]
    reasons = dict(vs.unparseable)
    assert set(reasons) == {"P01/extra/P01_day28.jpg", "P03/P04_day0.jpg",
                            "bad name./x_day0.jpg"}
    assert "sub-folder deep" in reasons["P01/extra/P01_day28.jpg"]
    assert "not the folder's" in reasons["P03/P04_day0.jpg"]
    assert "not a patient id" in reasons["bad name./x_day0.jpg"]


def test_discover_duplicate_visit_names_both(tmp_path):
    touch(tmp_path, "P01_day0.jpg", "P01_d00.png", "P01_day14.jpg")
    with pytest.raises(VisitError, match=r"P01_d00.png and P01_day0.jpg|P01_day0.jpg and "
                                         r"P01_d00.png"):
        discover(tmp_path, strict=True)
    found = discover(tmp_path)  # by default both are left out, with a warning
    assert [p.file for p in found.photos] == ["P01_day14.jpg"]
    assert any(w.startswith("skipped: two photos of patient P01 day 0") for w in found.warnings)
    # baseline and day0 are the same visit too; different views are not duplicates
    other = tmp_path / "b"
    touch(other, "P01_baseline_left.jpg", "P01_day0_left.jpg")
    with pytest.raises(VisitError, match="two photos of patient P01 day 0 view 'left'"):
        discover(other, strict=True)
    third = tmp_path / "c"
    touch(third, "P01_day0_left.jpg", "P01_day0_right.jpg")
    assert len(discover(third).photos) == 2


def test_discover_errors(tmp_path):
    with pytest.raises(VisitError, match="not found"):
        discover(tmp_path / "missing")
    touch(tmp_path, "file.jpg")
    with pytest.raises(VisitError, match="not a folder"):
        discover(tmp_path / "file.jpg")
    case = tmp_path / "case"
    touch(case, "p01_day0.jpg", "P01_day14.jpg")
    with pytest.raises(VisitError, match="differ only in case"):
        discover(case)


def test_discover_skips_excluded_output_folder(tmp_path):
    touch(tmp_path, "P01_day0.jpg", "P01_day14.jpg", "results/photos/P01_day0/overlay.jpg")
    vs = discover(tmp_path, exclude=[tmp_path / "results"])
    assert len(vs.photos) == 2 and vs.unparseable == []


# --- manifest ------------------------------------------------------------------------------

def write_manifest(folder: Path, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_manifest_wins_over_names(tmp_path):
    touch(tmp_path, "a/IMG_001.jpg", "a/IMG_002.jpg", "b/IMG_001.jpg", "P01_day0.jpg",
          "unlisted.jpg")
    write_manifest(tmp_path, "path,patient,visit,day,view,px_per_mm,arm,notes\n"
                   "a/IMG_001.jpg,P01,V1,0,left,20,laser,x\n"
                   "a/IMG_002.jpg,P01,V3,30,left,,laser,\n"
                   "b/IMG_001.jpg,P02,V1,0,,18.5,,\n"
                   "P01_day0.jpg,P02,V3,31,,,,\n")
    vs = discover(tmp_path)
    got = [(p.file, p.patient, p.visit, p.day, p.view, p.arm, p.px_per_mm, p.stem)
           for p in vs.photos]
    assert got == [
        ("a/IMG_001.jpg", "P01", "V1", 0, "left", "laser", 20.0, "P01_IMG_001"),
        ("a/IMG_002.jpg", "P01", "V3", 30, "left", "laser", None, "IMG_002"),
        ("b/IMG_001.jpg", "P02", "V1", 0, "", "", 18.5, "P02_IMG_001"),
        ("P01_day0.jpg", "P02", "V3", 31, "", "", None, "P01_day0"),
    ]
    assert vs.unparseable == [("unlisted.jpg", "not listed in manifest.csv")]
    assert vs.warnings == ["manifest.csv: column 'notes' is not used"]
    assert vs.manifest == tmp_path / "manifest.csv"


def test_manifest_minimal_columns_semicolons_and_bom(tmp_path):
    touch(tmp_path, "x.png", "y.png", "z.png")
    write_manifest(tmp_path, "Patient;Visit;Day;Path;px_per_mm\nS1;screen;-7;x.png;\n"
                   "S1;end;14.5;y.png;22,5\nS1;follow;30,25;z.png;20\n", encoding="utf-8-sig")
    photos, warnings = read_manifest(tmp_path / "manifest.csv")
    # a semicolon-separated file may write its numbers with a decimal comma (Excel's CSV
    # where the comma is the decimal separator)
    assert [(p.patient, p.visit, p.day, p.view, p.arm, p.px_per_mm) for p in photos] == [
        ("S1", "screen", -7, "", "", None), ("S1", "end", 14.5, "", "", 22.5),
        ("S1", "follow", 30.25, "", "", 20.0)]
    assert warnings == []


def test_manifest_in_windows_1252_is_read_with_a_warning(tmp_path):
    touch(tmp_path, "x.jpg", "y.jpg")
    write_manifest(tmp_path, "path;patient;visit;day\nx.jpg;Zoë Müller;J0;0\n"
                   "y.jpg;Zoë Müller;J28;28\n", encoding="cp1252")
    photos, warnings = read_manifest(tmp_path / "manifest.csv")
    assert [(p.patient, p.visit, p.day) for p in photos] == [
        ("Zoë Müller", "J0", 0), ("Zoë Müller", "J28", 28)]
    assert warnings == ["manifest.csv: not UTF-8, read as Windows-1252 (saved as Excel's "
                        "'CSV UTF-8' its text is certain)"]


def test_manifest_split_face_arms(tmp_path):
    touch(tmp_path, "a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg", "g.jpg")
    write_manifest(tmp_path, "path,patient,visit,day,view,arm,arm_left,arm_right\n"
                   "a.jpg,P1,V1,0,left,,treatment,control\n"
                   "b.jpg,P1,V1,0,Right,,treatment,control\n"
                   "c.jpg,P1,V2,28,LEFT45,,treatment,control\n"
                   "d.jpg,P1,V2,28,right45,,treatment,control\n"
                   "e.jpg,P1,V2,28,front,,treatment,control\n"
                   "f.jpg,P2,V1,0,left,sham,treatment,control\n"
                   "g.jpg,P2,V1,0,right,,control,treatment\n")
    photos, _ = read_manifest(tmp_path / "manifest.csv")
    assert [(p.file, p.view, p.arm) for p in photos] == [
        ("a.jpg", "left", "treatment"), ("b.jpg", "Right", "control"),
        ("c.jpg", "LEFT45", "treatment"), ("d.jpg", "right45", "control"),
        ("e.jpg", "front", ""),                  # no side: no side arm
        ("f.jpg", "left", "sham"),               # the per-photo arm wins
        ("g.jpg", "right", "treatment")]


def test_manifest_inconsistent_side_arm_names_both_lines(tmp_path):
    touch(tmp_path, "x.jpg", "y.jpg")
    write_manifest(tmp_path, "path,patient,visit,day,view,arm_left\n"
                   "x.jpg,P1,V1,0,left,treatment\ny.jpg,P1,V2,3,left45,control\n")
    with pytest.raises(VisitError) as info:
        discover(tmp_path, strict=True)
    assert str(info.value) == (
        "manifest.csv line 3: patient P1 left side has arm 'control' (y.jpg, view 'left45') "
        "but arm 'treatment' on line 2 (x.jpg, view 'left')")


@pytest.mark.parametrize("body, message", [
    ("path,patient,day\nx.jpg,P1,0\n", "missing column 'visit'"),
    ("path,patient,visit,day\nx.jpg,P1,V1,0\nnope.jpg,P1,V2,14\n", "line 3: photo 'nope.jpg' "
                                                                  "not found"),
    ("path,patient,visit,day\nx.jpg,P1,V1,zero\n", "line 2: day 'zero' is not a number"),
    ("path,patient,visit,day\nx.jpg,P1,V1,\n", "line 2: day '' is not a number"),
    ("path,patient,visit,day,px_per_mm\nx.jpg,P1,V1,0,-3\n", "line 2: px_per_mm '-3'"),
    ("path,patient,visit,day,px_per_mm\nx.jpg,P1,V1,0,abc\n", "line 2: px_per_mm 'abc'"),
    # a comma-separated file's decimal separator is the point
    ("path,patient,visit,day,px_per_mm\nx.jpg,P1,V1,0,\"22,5\"\n", "line 2: px_per_mm '22,5'"),
    ("path;patient;visit;day\nx.jpg;P1;V1;1.234,5\n", "line 2: day '1.234,5' is not a number"),
    ("path,patient,visit,day\nx.jpg,,V1,0\n", "line 2: empty patient"),
    ("path,patient,visit,day\nx.jpg,P1,,0\n", "line 2: empty visit"),
    ("path,patient,visit,day\nx.jpg,P1/2,V1,0\n", "line 2: patient 'P1/2' cannot be used"),
    ("path,patient,visit,day\nx.jpg,P1,V1,0\n./x.jpg,P1,V2,3\n", "line 3: photo './x.jpg' is "
                                                                 "already listed on line 2"),
    ("path,patient,visit,day\nx.jpg,P1,V1,0\ny.jpg,P1,V1,3\n", "visit 'V1' of patient P1 has "
                                                               "day 0"),
    ("path,patient,visit,day,view,arm\nx.jpg,P1,V1,0,left,A\ny.jpg,P1,V2,3,left,B\n",
     "line 3: patient P1 left side has arm 'B'"),
    ("path,patient,visit,day,view,arm\nx.jpg,P1,V1,0,front,A\ny.jpg,P1,V2,3,front,B\n",
     "line 3: patient P1 view 'front' has arm 'B'"),
    ("path,patient,visit,day,view,arm_left,arm_right\nx.jpg,P1,V1,0,left,treatment,control\n"
     "y.jpg,P1,V2,3,left45,control,treatment\n",
     "line 3: patient P1 left side has arm 'control'"),
    ("path,patient,visit,day\nx.jpg,P1,change,0\n", "line 2: visit label 'change' is reserved"),
    ("path,patient,visit,day\n", "lists no usable photos"),
    ("", "empty file"),
])
def test_manifest_errors_name_the_problem(tmp_path, body, message):
    touch(tmp_path, "x.jpg", "y.jpg")
    write_manifest(tmp_path, body)
    with pytest.raises(VisitError, match=message.replace("(", r"\(").replace(".", r"\.")) as info:
        discover(tmp_path, strict=True)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("manifest.csv")


def test_manifest_problems_are_all_reported_and_only_their_lines_skipped(tmp_path):
    touch(tmp_path, "x.jpg", "y.jpg", "z.jpg")
    write_manifest(tmp_path, "path,patient,visit,day\nx.jpg,P1,V1,0\nnope.jpg,P1,V2,14\n"
                   "y.jpg,P1,V3,zero\nz.jpg,P1,V4,28\n")
    found = discover(tmp_path)
    assert [p.file for p in found.photos] == ["x.jpg", "z.jpg"]
    skipped = [w for w in found.warnings if w.startswith("skipped: ")]
    assert len(skipped) == 2 and "line 3: photo 'nope.jpg' not found" in skipped[0]
    assert "line 4: day 'zero' is not a number" in skipped[1]
    with pytest.raises(VisitError) as info:
        discover(tmp_path, strict=True)
    assert str(info.value).count("\n") == 1  # both lines, in one go


# --- comparisons ---------------------------------------------------------------------------

@pytest.fixture
def course(tmp_path):
    touch(tmp_path, "P01_day0.jpg", "P01_day14.jpg", "P01_day28.jpg", "P02_bl.jpg",
          "P02_w4.jpg", "P03_d14.jpg", "P03_d28.jpg")
    return discover(tmp_path).photos


def test_default_baseline_is_earliest_and_compare_every_follow_up(course):
    comps, warnings = plan_comparisons(course)
    got = [(c.patient, c.baseline_visit, c.baseline_day, c.visits) for c in comps]
    assert got == [("P01", "day0", 0, (("day14", 14), ("day28", 28))),
                   ("P02", "baseline", 0, (("week4", 28),)),
                   ("P03", "day14", 14, (("day28", 28),))]
    # a baseline that is not day 0 is said
    assert warnings == ["patient P03: baseline is day14 (day 14), its earliest visit: it has "
                        "no day-0 photo"]


@pytest.mark.parametrize("spelling", ["day0", "day00", "d0", "D0", "baseline", "bl", "0"])
def test_baseline_spellings_are_day_zero(course, spelling):
    assert resolve_visit(spelling, course) == ("day", 0)
    comps, warnings = plan_comparisons(course, baseline=spelling)
    assert [c.patient for c in comps] == ["P01", "P02"]
    assert [c.baseline_day for c in comps] == [0, 0]
    assert warnings == [f"patient P03 has no baseline photo ({spelling}); no change from "
                        "baseline is reported"]


def test_compare_one_visit(course):
    comps, warnings = plan_comparisons(course, baseline="day0", compare="week4")
    assert [(c.patient, c.visits) for c in comps] == [("P01", (("day28", 28),)),
                                                      ("P02", (("week4", 28),))]
    comps, warnings = plan_comparisons(course, compare="d14")
    assert [(c.patient, c.visits) for c in comps] == [("P01", (("day14", 14),)), ("P02", ()),
                                                      ("P03", ())]
    assert any("P02 has no photo at the compare visit" in w for w in warnings)
    assert any("P03: the compare visit (d14) is its baseline" in w for w in warnings)


def test_comparison_errors(course):
    with pytest.raises(VisitError, match="no patient has a photo at the baseline visit"):
        plan_comparisons(course, baseline="day7")
    with pytest.raises(VisitError, match="no photo at the compare visit"):
        plan_comparisons(course, compare="month6")
    with pytest.raises(VisitError, match="unknown visit 'later'"):
        plan_comparisons(course, compare="later")


def test_manifest_labels_select_visits(tmp_path):
    touch(tmp_path, "a.jpg", "b.jpg", "c.jpg", "d.jpg")
    write_manifest(tmp_path, "path,patient,visit,day\na.jpg,P1,V1,0\nb.jpg,P1,V2,29\n"
                   "c.jpg,P2,V1,1\nd.jpg,P2,V2,30\n")
    photos = discover(tmp_path).photos
    comps, _ = plan_comparisons(photos, baseline="v1", compare="V2")
    assert [(c.patient, c.baseline_day, c.visits) for c in comps] == [
        ("P1", 0, (("V2", 29),)), ("P2", 1, (("V2", 30),))]


def test_view_without_baseline_is_a_warning(tmp_path):
    touch(tmp_path, "P01_day0_left.jpg", "P01_day28_left.jpg", "P01_day28_right.jpg")
    comps, warnings = plan_comparisons(discover(tmp_path).photos)
    assert comps[0].visits == (("day28", 28),)
    assert warnings == ["patient P01 view 'right' has no baseline photo (day0); its change "
                        "from baseline is empty"]


# --- dry run -------------------------------------------------------------------------------

def test_dry_run_lists_everything_and_writes_nothing(tmp_path):
    visits = tmp_path / "visits"
    names = ["P01_day0_front.jpg", "P01_day14_front.jpg", "P01_d28_front.jpg",
             "subj-7_baseline.png", "subj-7_week4.png"]
    touch(visits, *names, "P01_day0.gif", "oops.jpg", "README.md")
    before = sorted(p.name for p in visits.iterdir())
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["run", str(visits), "--out", str(out), "--dry-run",
                                      "--baseline", "d0"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for name in names + ["oops.jpg"]:
        assert name in text
    assert "README.md" not in text and "P01_day0.gif" not in text
    assert "P01: day0 (day 0) -> day14 (day 14), day28 (day 28)" in text
    assert "subj-7: baseline (day 0) -> week4 (day 28)" in text
    assert re.search(r"^\s+subj-7\s+week4\s+28\s+-\s+-\s+subj-7_week4\.png$", text, re.M)
    assert re.search(r"^\s+P01\s+day28\s+28\s+front\s+-\s+P01_d28_front\.jpg$", text, re.M)
    assert "nothing measured" in text
    assert not out.exists()
    assert sorted(p.name for p in visits.iterdir()) == before


def test_dry_run_usage_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(tmp_path / "nope"), "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    touch(tmp_path, "P01_day0.jpg")
    result = runner.invoke(app, ["run", str(tmp_path), "--dry-run", "--baseline", "day14"])
    assert result.exit_code == 2
    assert result.stderr == ("error: no patient has a photo at the baseline visit (day14)\n")


def test_patient_ids_keep_their_own_spelling(tmp_path):
    touch(tmp_path, "Zoë Müller_day0.jpg", "Zoë Müller_day28.jpg", "O'Brien_bl.jpg",
          "x._day0.jpg")
    found = discover(tmp_path)
    assert sorted({p.patient for p in found.photos}) == ["O'Brien", "Zoë Müller"]
    assert [name for name, _ in found.unparseable] == ["x._day0.jpg"]
