"""report.html: contents checked against the CSV files, self-containment, the ``report``
command, and a real rendering in headless Chromium."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import skinmetrics.batch
from skinmetrics.batch import run_batch
from skinmetrics.cli import app
from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.plots import course_figure, format_value, sparkline_svg
from skinmetrics.report import methods, references
from skinmetrics.synthetic import make_phantom, write_visit_set
from skinmetrics.tables import PATIENT_KEY_COLUMNS

SHAPE, PPM = (240, 320), 25.0
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


# --- a small HTML tree -----------------------------------------------------------------------

class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None = None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for c in self.children:
            if isinstance(c, Node):
                if tag is None or c.tag == tag:
                    yield c
                yield from c.iter(tag)

    def by_id(self, ident: str) -> Node:
        return next(n for n in self.iter() if n.attrs.get("id") == ident)


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.node))

    def handle_endtag(self, tag):
        node = self.node
        while node.parent is not None and node.tag != tag:
            node = node.parent
        assert node.tag == tag, f"stray </{tag}>"
        self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    assert builder.node is builder.root, "unclosed elements"
    return builder.root


@cache
def csv_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def shown_number(text: str) -> tuple[float, float]:
    """A number as shown and half a unit of its last digit."""
    text = text.replace("\u202f", "")
    if text == "\u2013":
        return math.nan, 0.0
    assert re.fullmatch(r"-?\d+(\.\d+)?", text), text
    decimals = len(text.partition(".")[2])
    return float(text), 0.5 * 10.0 ** -decimals


def check_numbers(results: Path) -> set[tuple[str, int, str]]:
    """Every number taken from a CSV equals its cell (to the digits shown and by the
    report's rule); returns the cells shown."""
    shown = set()
    for span in parse(results / "report.html").iter("span"):
        if "data-csv" not in span.attrs:
            continue
        name, row, col = span.attrs["data-csv"], int(span.attrs["data-row"]), span.attrs["data-col"]
        cell = csv_table(results / name)[col].iloc[row]
        value, tolerance = shown_number(span.text())
        if cell == "":
            assert math.isnan(value), (name, row, col, span.text())
        else:
            assert abs(value - float(cell)) <= tolerance * (1 + 1e-9), (name, row, col, cell)
            rules = {format_value(float(cell), k) for k in ("value", "percent", "count")}
            assert span.text() in rules, (name, row, col, cell)
        shown.add((name, row, col))
    return shown


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, object]:
    """A split-face patient (left/right x day 0 and 28, arms from the manifest) and a patient
    whose baseline photo is corrupt (and a day-14 photo), measured."""
    folder = tmp_path_factory.mktemp("study")
    lines = ["path,patient,visit,day,view,arm_left,arm_right,px_per_mm"]
    for side in ("left", "right"):
        for day in (0, 28):
            strength = 1.0 if day == 0 or side == "right" else 0.5
            ph = make_phantom(SHAPE, PPM, 55.0, seed=len(side), capture_seed=day,
                              erythema=strength, microcrust=strength)
            name = f"S1_{side}_day{day:02d}.jpg"
            (folder / name).write_bytes(ph.jpeg)
            lines.append(f"{name},S1,day{day},{day},{side},treatment,control,{PPM}")
    (folder / "P09_day00.jpg").write_bytes(b"not an image")
    shutil.copy(folder / "S1_left_day28.jpg", folder / "P09_day14.jpg")
    lines += [f"P09_day00.jpg,P09,day0,0,,,,{PPM}", f"P09_day14.jpg,P09,day14,14,,,,{PPM}"]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("results") / "out"
    result = run_batch(folder, out, "laser_recovery", jobs=1, chart="none")
    return out, result


@pytest.fixture(scope="module")
def one_patient(tmp_path_factory) -> Path:
    """One patient, day 0 and 28."""
    folder = tmp_path_factory.mktemp("one")
    write_visit_set(folder, patients=1, shape=SHAPE, px_per_mm=PPM)
    (folder / "P01_day14.jpg").unlink()
    return folder


# --- contents --------------------------------------------------------------------------------

def test_run_writes_the_report(study):
    out, result = study
    assert result.exit_code == 1  # the corrupt photo
    assert (out / "report.html").stat().st_size > 10_000
    assert not any("report.html" in w for w in result.warnings)
    run = json.loads((out / "run.json").read_text())
    assert not any("report.html" in w for w in run["warnings"])


def test_every_patient_visit_metric_and_error_appears(study):
    out, _ = study
    doc = parse(out / "report.html")
    run = json.loads((out / "run.json").read_text())
    meas = csv_table(out / "measurements.csv")
    metrics = [m for m in dict.fromkeys(meas.metric) if m]
    articles = {next(a.iter("h3")).text().removeprefix("Patient "): a
                for a in doc.iter("article")}
    assert sorted(articles) == ["P09", "S1"]
    for photo in run["photos"]:
        text = articles[photo["patient"]].text()
        assert photo["visit"] in text and photo["file"] in text
    for pid, article in articles.items():
        table = next(article.iter("table"))
        rows = [tr for tr in table.iter("tr") if next(tr.iter("td"), None) is not None]
        shown = [next(tr.iter("td")).text() for tr in rows]
        wide = csv_table(out / "patients" / f"{pid}.csv")
        assert shown == list(wide.metric), pid
        assert set(shown) == set(metrics)
        header = [th.text() for th in table.iter("th")]
        for visit in [c for c in wide.columns if c.startswith("day")]:
            assert any(h.startswith(visit) for h in header), (pid, visit)
        assert len(list(article.iter("svg"))) >= len(metrics) - 3  # trends (some all-missing)
    # every metric is defined in the methods section, with a definition and a formula
    for metric in metrics:
        row = doc.by_id(f"metric-{metric}")
        cells = [td.text() for td in row.iter("td")]
        assert cells[0] == metric and cells[2] and cells[3], cells
        assert "not documented" not in cells[2]
    cited = {li.text() for li in doc.iter("li") if li.attrs.get("id", "").startswith("ref-")}
    assert cited and cited <= set(references().values())
    # every photo that was not measured, with its reason
    errors = [tr for tr in doc.iter("tr") if tr.attrs.get("class") == "error-photo"]
    failed = [p for p in run["photos"] if p["status"] != "ok"]
    assert [p["file"] for p in failed] == ["P09_day00.jpg"]
    assert [[td.text() for td in tr.iter("td")] for tr in errors] == [
        [p["file"], p["patient"], p["visit"], p["message"]] for p in failed]
    assert "not a readable" in failed[0]["message"]
    assert "not measured" in articles["P09"].text()
    # the run
    run_text = doc.by_id("run").text()
    for fact in ("laser_recovery", run["skinmetrics_version"], run["start_time"],
                 run["end_time"], str(run["n_photos"]), "min_redness = 12.0"):
        assert fact in run_text
    assert "treatment" in doc.by_id("cohort").text() and doc.by_id("cohort-paired")


def test_each_photos_estimates_and_their_source_are_shown(study):
    """The run section lists, per measured photo, the erythema layer's melanin crosstalk:
    a baseline's own, and for its aligned follow-up the same value, from the baseline."""
    out, _ = study
    doc = parse(out / "report.html")
    run = json.loads((out / "run.json").read_text())
    [table] = [t for t in doc.iter("table")
               if "melanin crosstalk" in "".join(c.text() for c in t.iter("caption"))]
    header = [th.text() for th in table.iter("th")]
    rows = {cells[0]: dict(zip(header, cells, strict=True)) for cells in
            ([td.text() for td in tr.iter("td")] for tr in table.iter("tr")) if cells}
    for photo in run["photos"]:
        shown = rows[photo["file"]]["estimates"]
        if photo["status"] != "ok":
            assert shown == ""
            continue
        value = photo["estimates"]["erythema"]["melanin_crosstalk"]
        levels = photo["estimates"]["erythema"]["reference_levels"]
        source = "photo" if photo["day"] == 0 or photo["patient"] == "P09" else "baseline"
        assert photo["estimates_source"]["erythema"] == {"melanin_crosstalk": source,
                                                         "reference_levels": source}
        assert shown == (f"melanin crosstalk {format_value(value)} ({source}); reference "
                         f"levels {', '.join(map(format_value, levels))} ({source})")
    by_file = {p["file"]: p["estimates"] for p in run["photos"]}
    assert by_file["S1_left_day28.jpg"] == by_file["S1_left_day00.jpg"]


def test_numbers_shown_equal_the_csv_values(study):
    out, _ = study
    shown = check_numbers(out)
    files = {name for name, _, _ in shown}
    assert {"summary.csv", "cohort_stats.csv", "patients/S1.csv", "patients/P09.csv"} <= files
    for pid in ("S1", "P09"):  # every number of every patient table
        name = f"patients/{pid}.csv"
        wide = csv_table(out / name)
        # the visits and the change to the last compared visit (the CSV has one per visit)
        numeric = [c for c in wide.columns if c not in PATIENT_KEY_COLUMNS
                   and not c.startswith(("baseline_for_", "change_", "percent_change_"))]
        numeric += [next(c for c in reversed(wide.columns) if c.startswith(prefix))
                    for prefix in ("change_", "percent_change_")
                    if any(c.startswith(prefix) for c in wide.columns)]
        assert {(name, r, c) for r in range(len(wide)) for c in numeric} <= shown
    summary = csv_table(out / "summary.csv")
    assert {r for name, r, _ in shown if name == "summary.csv"} == set(range(len(summary)))
    cohort = csv_table(out / "cohort_stats.csv")
    assert {r for name, r, _ in shown if name == "cohort_stats.csv"} == set(range(len(cohort)))
    assert (cohort.kind == "paired").any()


def test_nothing_is_loaded_from_outside_the_file(study):
    out, _ = study
    html = (out / "report.html").read_text(encoding="utf-8")
    doc = parse(out / "report.html")
    assert not list(doc.iter("script")) and not list(doc.iter("link"))
    for tag in ("iframe", "object", "embed", "source", "video", "audio", "image", "use"):
        assert not list(doc.iter(tag)), tag
    images = list(doc.iter("img"))
    assert len(images) > 20
    for node in doc.iter():
        for attr in ("src", "srcset", "data", "poster", "xlink:href", "background"):
            value = node.attrs.get(attr)
            if value is not None:
                assert value.startswith("data:image/"), (node.tag, attr, value[:60])
        assert "url(" not in node.attrs.get("style", "")
    styles = "".join(s.text() for s in doc.iter("style"))
    assert "url(" not in styles and "@import" not in styles
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", html, re.I)
    # the only other links: in-page anchors and the full overlays next to the report
    ids = {n.attrs["id"] for n in doc.iter() if "id" in n.attrs}
    overlays = 0
    for a in doc.iter("a"):
        href = a.attrs["href"]
        if href.startswith("#"):
            assert href[1:] in ids, href
        else:
            assert re.fullmatch(r"photos/[^/]+/overlay\.jpg", href), href
            assert (out / href).is_file()
            assert next(a.iter("img")).attrs["src"].startswith("data:image/jpeg;base64,")
            overlays += 1
    assert overlays == 5  # every measured photo


def test_one_patient(one_patient, tmp_path):
    out = tmp_path / "out"
    result = run_batch(one_patient, out, "laser_recovery", jobs=1, px_per_mm=PPM, chart="none")
    assert result.exit_code == 0
    doc = parse(out / "report.html")
    assert [a.attrs["id"] for a in doc.iter("article")] == ["patient-1"]
    assert "Every photo was measured" in doc.by_id("run-errors").parent.text()
    assert list(doc.iter("svg"))
    plots = [f for f in doc.iter("figure") if f.attrs.get("class") == "plot"]
    assert len(plots) == len({m for m in csv_table(out / "measurements.csv").metric if m})
    shown = check_numbers(out)
    assert any(name == "patients/P01.csv" for name, _, _ in shown)


def test_report_command_rebuilds_without_measuring(study, tmp_path):
    out, _ = study
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    (copy / "report.html").unlink()
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"report: {copy / 'report.html'}\n"
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing measured or rewritten
    assert {p for p in copy.rglob("*") if p.is_file()} - set(before) == {copy / "report.html"}
    assert (sorted(a.attrs["id"] for a in parse(copy / "report.html").iter("article"))
            == sorted(a.attrs["id"] for a in parse(out / "report.html").iter("article")))
    # elsewhere: the overlay links lead back to the results folder
    other = tmp_path / "elsewhere" / "study.html"
    result = CliRunner().invoke(app, ["report", str(copy), "--out", str(other)])
    assert result.exit_code == 0, result.output
    links = [a.attrs["href"] for a in parse(other).iter("a") if not a.attrs["href"][0] == "#"]
    assert links and all((other.parent / h).resolve().is_file() for h in links)


def test_report_command_on_a_bad_folder(tmp_path):
    def one_line_error(folder: Path, message: str) -> None:
        result = CliRunner().invoke(app, ["report", str(folder)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert message in result.stderr
        assert not (folder / "report.html").exists()

    one_line_error(tmp_path / "missing", "does not exist")
    one_line_error(tmp_path, "is not a skinmetrics results folder (no run.json, ")
    for name in ("measurements.csv", "summary.csv", "cohort_stats.csv"):
        (tmp_path / name).write_text("a\n1\n")
    (tmp_path / "run.json").write_text("{")
    one_line_error(tmp_path, "cannot read")
    (tmp_path / "run.json").write_text('{"photos": [{"file": "a.jpg"}]}')
    one_line_error(tmp_path, "is not the run.json of skinmetrics run")
    (tmp_path / "run.json").write_text('{"photos": []}')
    one_line_error(tmp_path, "measurements.csv has no column patient, visit, ")


def test_a_failed_report_keeps_the_tables(one_patient, tmp_path, monkeypatch):
    def broken(folder, out=None):
        raise RuntimeError("no space\nleft")

    monkeypatch.setattr(skinmetrics.batch, "write_report", broken)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier run's report")
    result = run_batch(one_patient, out, "laser_recovery", jobs=1, px_per_mm=PPM,
                       chart="none", register=False, overwrite=True)
    assert result.exit_code == 0
    assert (out / "summary.csv").is_file() and (out / "patients" / "P01.csv").is_file()
    assert not (out / "report.html").exists()
    warning = "report.html not written: RuntimeError: no space"
    assert result.warnings[-1] == warning
    assert json.loads((out / "run.json").read_text())["warnings"][-1] == warning


# --- the pieces ------------------------------------------------------------------------------

def test_format_value():
    assert format_value(22.0133) == "22.01"
    assert format_value(0.000123456) == "0.0001235"
    assert format_value(1037.7) == "1038"
    assert format_value(933927.0) == "933\u202f927"
    assert format_value(-18252) == "-18\u202f252"
    assert format_value(535) == "535"
    assert format_value(-72.3905, "percent") == "-72.4"
    assert format_value(-0.04, "percent") == "0.0"
    assert format_value(3.0, "count") == "3"
    assert format_value(math.nan) == format_value(None) == "\u2013"


def test_sparkline():
    svg = sparkline_svg([0, 14, 28], [3.0, math.nan, 1.0])
    assert svg.startswith("<svg") and svg.count("<circle") == 2
    assert "day 0: 3; day 28: 1" in svg
    assert sparkline_svg([0, 14], [math.nan, math.nan]) == ""


def test_course_figure_draws_each_arms_mean_and_sd_at_their_values():
    courses = {"cheek_left": {
        "treatment": {"P1": [("d0", 0, 10.0), ("d14", 14, 6.0), ("d28", 28, 2.0)],
                      "P2": [("d0", 0, 14.0), ("d14", 15, 8.0), ("d28", 28, 4.0)],
                      "P3": [("d0", 0, 12.0), ("d14", 14, 13.0), ("d28", 27, 3.0)]},
        "a <b> & c": {"P1": [("d0", 0, 9.0), ("d28", 28, 8.0)],
                      "P2": [("d0", 0, 11.0), ("d28", 28, 9.0)]}}}
    prefix, _, data = course_figure(courses, "mm2").partition(",")
    assert prefix == "data:image/svg+xml;base64"
    svg = ElementTree.fromstring(base64.b64decode(data))  # well-formed: names are escaped
    ns = "{http://www.w3.org/2000/svg}"
    texts = {t.text: t for t in svg.iter(f"{ns}text")}
    assert {"cheek_left", "day", "mm\u00b2", "treatment (n = 3)", "a <b> & c (n = 2)"} <= set(texts)
    # the y axis: its tick labels (right-aligned) give the value of each pixel row
    ticks = sorted((float(t.get("y")) - 3, float(t.text)) for t in svg.iter(f"{ns}text")
                   if t.get("text-anchor") == "end")
    (y_a, v_a), (y_b, v_b) = ticks[0], ticks[-1]
    per_px = (v_b - v_a) / (y_b - y_a)
    groups = [g for g in svg.iter(f"{ns}g") if g.find(f"{ns}circle") is not None]
    expected = {  # each arm's mean and SD (n - 1) per visit, by the visit's median day
        "#E69F00": ([0, 14, 28], [12.0, 9.0, 3.0], [2.0, np.std([6, 8, 13], ddof=1), 1.0]),
        "#0072B2": ([0, 28], [10.0, 8.5], [np.std([9, 11], ddof=1), np.std([8, 9], ddof=1)])}
    for g in groups:
        days, means, sds = expected.pop(g.get("fill"))  # a course per arm, in its colour
        ys = [float(c.get("cy")) for c in g.iter(f"{ns}circle")]
        np.testing.assert_allclose([v_a + (y - y_a) * per_px for y in ys], means, atol=0.05)
        xs = [float(c.get("cx")) for c in g.iter(f"{ns}circle")]
        np.testing.assert_allclose(np.diff(xs) / np.diff(days), np.diff(xs)[0] / np.diff(days)[0],
                                   rtol=0.02)
        bars = [b for b in g.iter(f"{ns}line") if b.get("x1") == b.get("x2")]
        lengths = [abs(float(b.get("y2")) - float(b.get("y1"))) * abs(per_px) for b in bars]
        np.testing.assert_allclose(lengths, 2 * np.asarray(sds), atol=0.05)
    assert expected == {}


def test_every_builtin_metric_is_defined():
    rgb = decode_image(make_phantom((200, 260), PPM, 60.0, seed=3).jpeg)[0]
    defined = {m.name for layer in methods() for m in layer.metrics}
    for name in ("laser_recovery", "acne"):
        metrics = set(measure_image(rgb, load_pipeline(name), PPM).metrics)
        assert metrics <= defined, metrics - defined
    keys = {k for layer in methods() for k in layer.references}
    keys |= {k for layer in methods() for m in layer.metrics for k in m.references}
    assert keys <= set(references()) and set(references()) <= keys


# --- a browser -------------------------------------------------------------------------------

def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_chromium_renders_the_report(study, tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium in .ci/run)")
    out, _ = study
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    profile.mkdir()
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", f"--user-data-dir={profile}",
           "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
           (out / "report.html").as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape == (2400, 1280, 3)
    not_white = (rgb < 235).any(axis=2)
    assert 0.05 < not_white.mean() < 0.9, not_white.mean()
    assert not_white[: 600].mean() > 0.02 and not_white[1200:].mean() > 0.02  # all the way
    colours = np.unique(rgb.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 500, len(colours)  # text, the palette and the photo thumbnails
