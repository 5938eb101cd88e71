"""Finding the visits: which photograph shows which patient, at which visit, from which view.

Nothing here measures or writes anything; the functions only read folder listings and the
optional ``manifest.csv``.

File-name grammar
-----------------
A photograph's file name (case-insensitive extension ``.jpg``, ``.jpeg``, ``.png``, ``.tif``,
``.tiff``) is::

    <patient>_<visit>[_<view>].<ext>

The separator is the underscore ``_``; there must be two or three parts, none empty.

``<patient>``
    Letters, digits and hyphens, starting with a letter or digit (``P01``, ``subj-7``,
    ``007``). Kept exactly as spelled (it is not lower-cased).
``<visit>`` (any case)
    ``day<N>`` or ``d<N>`` -> day N (``day0``, ``day00``, ``d0``, ``day14``, ``d14``);
    ``week<N>``, ``wk<N>`` or ``w<N>`` -> day 7 N; ``month<N>``, ``mo<N>`` or ``m<N>`` ->
    day 28 N (:data:`MONTH_DAYS`); ``baseline`` or ``bl`` -> day 0. The visit label is written
    in a normalised spelling: ``day<N>``, ``week<N>``, ``month<N>`` or ``baseline``, N without
    leading zeros (``P01_D00.jpg`` is visit ``day0``).
``<view>`` (optional, any case)
    One of :data:`VIEWS`, written in lower case; no view is written as the empty string.

Photographs may lie directly in the folder or in ``<patient>/`` sub-folders (one level).
Inside a sub-folder the name may leave the patient out (``subj-7/day0_front.jpg``); when it
does carry one it must be the folder's. Names that do not follow the grammar are not guessed:
they are listed as unparseable with the reason. Files that are not images (``README.md``,
``ground_truth.csv``) and hidden files (``.DS_Store``, ``._P01_day0.jpg``) are ignored; a phone's
HEIC and a camera's raw files are listed as not read, and a folder with the results of a run
(its ``run.json`` and ``photos/``) as not searched.

Manifest
--------
A ``manifest.csv`` in the folder, when present, replaces the file names as the source of
truth. Columns (header names in any case): ``path``, ``patient``, ``visit``, ``day`` and,
optionally, ``view``, ``px_per_mm``, ``arm`` (treatment arm of that photo's side),
``arm_left`` and ``arm_right`` (split-face designs: treatment arm of the patient's left and
right side). A photo whose view is ``left`` or ``left45`` gets ``arm_left``, one whose view is
``right`` or ``right45`` gets ``arm_right`` (the patient's left and right, the clinical
convention; views in any case); a non-empty ``arm`` wins over both. In a whole-face photo
the left and right cheek take ``arm_left`` and ``arm_right`` (:func:`region_arm`). One
patient's side (left, right, or otherwise the view itself) must have one arm (empty counts as
an arm) at every visit. Paths are relative to the manifest (absolute paths are allowed);
the ``day`` column gives the day number of the visit, so the visit labels may be anything
(``V1``, ``screening``). Images in the folder that the manifest does not list are reported as not
used. The file may be comma- or semicolon-separated (a semicolon-separated file's numbers may
have a decimal comma, as Excel writes them where that is the decimal separator), UTF-8 or,
with a warning, Windows-1252 (Excel's plain CSV on Windows). Any error (missing column,
missing file, non-numeric day, ...) is a :class:`VisitError` naming the line.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .io import IMAGE_SUFFIXES, UNREAD_PHOTO_SUFFIXES, real_path

__all__ = [
    "VIEWS",
    "WEEK_DAYS",
    "MONTH_DAYS",
    "MANIFEST_NAME",
    "VisitError",
    "Photo",
    "ParsedName",
    "VisitSet",
    "Comparison",
    "parse_visit",
    "parse_view",
    "parse_name",
    "photo_side",
    "photo_arm",
    "region_arm",
    "REGION_SIDES",
    "read_manifest",
    "discover",
    "resolve_visit",
    "plan_comparisons",
    "natural_key",
    "format_day",
]

#: Accepted views in file names (the manifest may use any view).
VIEWS = ("front", "left", "right", "left45", "right45")
#: Days per week and per month for ``week<N>`` / ``month<N>`` visits (a manifest's ``day``
#: column overrides both).
WEEK_DAYS = 7
MONTH_DAYS = 28
MANIFEST_NAME = "manifest.csv"
_MANIFEST_REQUIRED = ("path", "patient", "visit", "day")
_MANIFEST_OPTIONAL = ("view", "px_per_mm", "arm", "arm_left", "arm_right")
#: Views that show the patient's left / right side (split-face ``arm_left`` / ``arm_right``).
_SIDE_VIEWS = {"left": "left", "left45": "left", "right": "right", "right45": "right"}

#: A patient id in a file or folder name: letters and digits of any script, and spaces, '.',
#: "'" and '-' between them ('_' separates the parts of a name).
_PATIENT_RE = re.compile(r"[^\W_](?:[^\W_]|[ .'-])*(?<![ .'-])\Z")
_PATIENT_HELP = "letters, digits, and spaces, '.', \"'\" or '-' between them"
_VISIT_RE = re.compile(
    r"(?:(?P<day>day|d)|(?P<week>week|wk|w)|(?P<month>month|mo|m))(?P<n>[0-9]+)\Z"
    r"|(?P<baseline>baseline|bl)\Z",
    re.IGNORECASE,
)
_VISIT_HELP = "day<N>, d<N>, week<N>, w<N>, month<N>, m<N>, baseline or bl"
_GRAMMAR = "<patient>_<visit>[_<view>]"
# characters that cannot appear in an id used as a file name (patients/<patient>.csv)
_UNSAFE_ID = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
# column names of the result tables: a visit label (a column of the patient table) cannot be one
_RESERVED_LABELS = {"patient", "visit", "day", "view", "region", "arm", "metric", "value", "unit",
                    "photo", "status", "message", "baseline_visit", "baseline_day",
                    "baseline_value", "change", "percent_change", "n", "percent_change_n"}


class VisitError(ValueError):
    """The visit folder or its manifest cannot be used (one-line message)."""


@dataclass(frozen=True)
class Photo:
    """One photograph of a visit set.

    Attributes
    ----------
    path : Path
        The file.
    file : str
        Its path relative to the visit folder, with ``/`` separators (used in the tables).
    patient, visit : str
        Patient id as spelled, visit label (normalised for parsed names, see the module text).
    day : int or float
        Day number of the visit.
    view : str
        ``""`` when the photo has no view.
    arm : str
        Treatment arm (manifest only: ``arm``, or ``arm_left`` / ``arm_right`` by the view's
        side), else ``""``.
    px_per_mm : float or None
        Scale from the manifest, else None.
    stem : str
        Name of its output folder (unique within the set; set by :func:`discover`).
    arm_left, arm_right : str
        Arms of the patient's left and right side (manifest ``arm_left`` / ``arm_right``,
        when no per-photo ``arm`` is given), for the cheeks of a whole-face photo
        (:func:`region_arm`).
    """

    path: Path
    file: str
    patient: str
    visit: str
    day: int | float
    view: str = ""
    arm: str = ""
    px_per_mm: float | None = None
    stem: str = ""
    arm_left: str = ""
    arm_right: str = ""


@dataclass(frozen=True)
class ParsedName:
    """What a file name says: patient (None when the name leaves it out), visit, day, view."""

    patient: str | None
    visit: str
    day: int
    view: str


@dataclass
class VisitSet:
    """The photographs found in a folder.

    Attributes
    ----------
    root : Path
        The visit folder.
    photos : list of Photo
        Ordered by patient (natural order), day, view.
    unparseable : list of (str, str)
        Image files that are not used: (path relative to the folder, one-line reason); then
        the folders not searched (the results of a run inside the folder, ``results/``).
    manifest : Path or None
        The manifest the photos came from, if any.
    warnings : list of str
    """

    root: Path
    photos: list[Photo]
    unparseable: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def patients(self) -> list[str]:
        """Patient ids in natural order."""
        return sorted({p.patient for p in self.photos}, key=natural_key)


@dataclass(frozen=True)
class Comparison:
    """What is compared for one patient.

    Attributes
    ----------
    patient : str
    baseline_visit : str
    baseline_day : int or float
    visits : tuple of (str, int or float)
        Follow-up visits compared with the baseline, (label, day) ordered by day. The last
        one is the patient table's compare visit.
    """

    patient: str
    baseline_visit: str
    baseline_day: int | float
    visits: tuple[tuple[str, int | float], ...]


def natural_key(text: str) -> tuple:
    """Sort key ordering digit runs by value (``P2`` before ``P10``), letters ignoring case."""
    parts = tuple((0, int(t), "") if t[0] in "0123456789" else (1, 0, t.lower())
                  for t in re.split(r"([0-9]+)", text) if t)
    return parts, text


def format_day(day: int | float) -> str:
    """A day number as text: integers without a decimal point (``14``, ``3.5``)."""
    return str(int(day)) if float(day).is_integer() else repr(float(day))


def parse_visit(text: str) -> tuple[str, int]:
    """Parse a visit spelling to its normalised label and day number.

    Parameters
    ----------
    text : str
        ``day0``, ``day00``, ``d0``, ``baseline``, ``bl``, ``day14``, ``d14``, ``week4``,
        ``w4``, ``month3`` ... in any case.

    Returns
    -------
    label : str
        ``day<N>``, ``week<N>``, ``month<N>`` or ``baseline``.
    day : int
        Week = :data:`WEEK_DAYS` days, month = :data:`MONTH_DAYS` days.

    Raises
    ------
    ValueError
        The text is not a visit spelling.
    """
    m = _VISIT_RE.match(text.strip())
    if not m:
        raise ValueError(f"unknown visit '{text}' (expected {_VISIT_HELP})")
    if m["baseline"]:
        return "baseline", 0
    n = int(m["n"])
    if m["day"]:
        return f"day{n}", n
    if m["week"]:
        return f"week{n}", n * WEEK_DAYS
    return f"month{n}", n * MONTH_DAYS


def parse_view(text: str) -> str:
    """Normalise a view spelling (any case) to one of :data:`VIEWS`; ValueError if unknown."""
    view = text.strip().lower()
    if view not in VIEWS:
        raise ValueError(f"unknown view '{text}' (accepted: {', '.join(VIEWS)})")
    return view


def parse_name(name: str, folder_patient: str | None = None) -> ParsedName:
    """Parse a photograph's file name (see the module text for the grammar).

    Parameters
    ----------
    name : str
        File name with its extension, e.g. ``P01_day14_left45.JPG``.
    folder_patient : str, optional
        Patient id of the ``<patient>/`` sub-folder the file is in. The name may then be
        ``<visit>[_<view>]``; if it starts with a patient id, that id must be this one.

    Returns
    -------
    ParsedName
        ``patient`` is the folder's id when the name leaves it out.

    Raises
    ------
    ValueError
        One-line reason when the name does not follow the grammar.
    """
    stem, ext = os.path.splitext(name)
    if ext.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"not an image file name (extensions: {', '.join(IMAGE_SUFFIXES)})")
    parts = stem.split("_")
    if folder_patient is not None and parts[0] != folder_patient:
        try:  # <visit>[_<view>] inside the patient's folder
            return _parse_parts(folder_patient, parts, with_patient=False)
        except ValueError as exc:
            no_patient_error = exc
        if len(parts) >= 2 and _PATIENT_RE.match(parts[0]) and not _VISIT_RE.match(parts[0]):
            try:
                _parse_parts(None, parts, with_patient=True)
            except ValueError:
                pass
            else:
                raise ValueError(f"patient '{parts[0]}' in the name is not the folder's "
                                 f"'{folder_patient}'")
        raise no_patient_error
    return _parse_parts(None, parts, with_patient=True)


def _parse_parts(patient: str | None, parts: list[str], with_patient: bool) -> ParsedName:
    grammar = _GRAMMAR if with_patient else "<visit>[_<view>] (or " + _GRAMMAR + ")"
    n_min, n_max = (2, 3) if with_patient else (1, 2)
    if len(parts) < n_min:
        raise ValueError(f"expected {grammar}: no '_' between patient and visit")
    if len(parts) > n_max:
        raise ValueError(f"expected {grammar}: too many '_'-separated parts ({len(parts)})")
    if any(not p for p in parts):
        raise ValueError(f"expected {grammar}: empty part between '_' separators")
    if with_patient:
        patient = parts[0]
        if not _PATIENT_RE.match(patient):
            raise ValueError(f"patient id '{patient}' may hold only {_PATIENT_HELP}")
        parts = parts[1:]
    label, day = parse_visit(parts[0])
    view = parse_view(parts[1]) if len(parts) > 1 else ""
    return ParsedName(patient, label, day, view)


def _check_id(value: str, what: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise VisitError(f"{where}: empty {what}")
    if _UNSAFE_ID.search(value) or value.startswith(".") or value.endswith("."):
        raise VisitError(f"{where}: {what} '{value}' cannot be used in a file name "
                         "(no / \\ : * ? \" < > |, control characters or leading/trailing '.')")
    return value


def _parse_number(text: str, decimal_comma: bool = False) -> int | float:
    """A number of a name or manifest cell; ``decimal_comma``: its decimal separator is a
    comma (``14,5``), as Excel writes a semicolon-separated CSV where the comma is the
    decimal separator."""
    value = float(text.replace(",", ".") if decimal_comma else text)  # ValueError if not one
    if not math.isfinite(value):
        raise ValueError(text)
    return int(value) if value.is_integer() else value


def read_manifest(path: str | os.PathLike, strict: bool = False
                  ) -> tuple[list[Photo], list[str]]:
    """Read a ``manifest.csv`` (see the module text).

    Parameters
    ----------
    path : path-like
        The manifest file. Comma- or semicolon-separated (then with decimal commas or
        points), UTF-8 (with or without BOM) or else Windows-1252 (with a warning).
    strict : bool
        A line that cannot be used (photo missing or listed twice, bad id, day or
        px_per_mm, an arm that contradicts an earlier line) is an error; by default it is
        skipped with a warning, and every such line is reported.

    Returns
    -------
    photos : list of Photo
        In manifest order, ``stem`` not yet set.
    warnings : list of str
        E.g. columns that are not used, lines skipped.

    Raises
    ------
    VisitError
        Unreadable file, missing column, no usable line, one visit label with two days; with
        ``strict`` also the line problems above, all of them in one message (one per line).
    """
    path = Path(path)
    name = path.name
    warnings = []
    try:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:  # Excel's plain "CSV" on Windows
            text = raw.decode("cp1252")
            warnings.append(f"{name}: not UTF-8, read as Windows-1252 (saved as Excel's "
                            "'CSV UTF-8' its text is certain)")
    except (OSError, UnicodeDecodeError) as exc:
        raise VisitError(f"{name}: cannot read ({exc})") from exc
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise VisitError(f"{name}: empty file (needs columns "
                         f"{', '.join(_MANIFEST_REQUIRED)})") from None
    missing = [c for c in _MANIFEST_REQUIRED if c not in header]
    if missing:
        raise VisitError(f"{name}: missing column '{missing[0]}' (required: "
                         f"{', '.join(_MANIFEST_REQUIRED)}; optional: "
                         f"{', '.join(_MANIFEST_OPTIONAL)})")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise VisitError(f"{name}: column '{dup[0]}' given twice")
    known = set(_MANIFEST_REQUIRED) | set(_MANIFEST_OPTIONAL)
    warnings += [f"{name}: column '{h}' is not used" for h in header if h and h not in known]
    col = {h: i for i, h in enumerate(header)}
    photos: list[Photo] = []
    seen_paths: dict[Path, int] = {}
    side_arms: dict[tuple[str, str], tuple[str, int, str, str]] = {}
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        try:
            photos.append(_manifest_photo(row, col, header, path, line, seen_paths, side_arms,
                                         decimal_comma=delimiter == ";"))
        except VisitError as exc:
            problems.append(str(exc))
    if problems and strict:
        raise VisitError("\n".join(problems))
    warnings += [f"skipped: {p}" for p in problems]
    if not photos:
        raise VisitError(f"{name}: lists no usable photos"
                         + (f" ({problems[0]})" if problems else ""))
    _check_consistent(photos, name)
    return photos, warnings


def _manifest_photo(row: list[str], col: dict[str, int], header: list[str], path: Path,
                    line: int, seen_paths: dict[Path, int],
                    side_arms: dict[tuple[str, str], tuple[str, int, str, str]],
                    decimal_comma: bool) -> Photo:
    """The photo of one manifest line (raises :class:`VisitError` naming the line);
    ``decimal_comma``: its numbers are written with a decimal comma."""
    name = path.name
    where = f"{name} line {line}"
    if len(row) > len(header):
        raise VisitError(f"{where}: {len(row)} fields but the header has {len(header)}")

    def cell(key: str, row=row) -> str:
        i = col.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    rel = cell("path")
    if not rel:
        raise VisitError(f"{where}: empty path")
    file_path = Path(rel) if Path(rel).is_absolute() else path.parent / rel
    if not file_path.is_file():
        raise VisitError(f"{where}: photo '{rel}' not found")
    key = real_path(file_path)
    if key in seen_paths:
        raise VisitError(f"{where}: photo '{rel}' is already listed on line "
                         f"{seen_paths[key]}")
    seen_paths[key] = line
    patient = _check_id(cell("patient"), "patient", where)
    visit = _check_id(cell("visit"), "visit", where)
    if visit.lower() in _RESERVED_LABELS:
        raise VisitError(f"{where}: visit label '{visit}' is reserved (a table column)")
    try:
        day = _parse_number(cell("day"), decimal_comma)
    except ValueError:
        raise VisitError(f"{where}: day '{cell('day')}' is not a number") from None
    ppm_text = cell("px_per_mm")
    px_per_mm = None
    if ppm_text:
        try:
            px_per_mm = float(_parse_number(ppm_text, decimal_comma))
        except ValueError:
            px_per_mm = float("nan")
        if not (math.isfinite(px_per_mm) and px_per_mm > 0):
            raise VisitError(f"{where}: px_per_mm '{ppm_text}' is not a positive number")
    view = cell("view")
    if view:
        view = _check_id(view, "view", where)
    try:
        file = file_path.relative_to(path.parent).as_posix()
    except ValueError:
        file = file_path.as_posix()
    arm = photo_arm(view, cell("arm"), cell("arm_left"), cell("arm_right"))
    sides = {"left": "", "right": ""} if cell("arm") else {
        "left": cell("arm_left"), "right": cell("arm_right")}
    side = photo_side(view)
    shown = {side: arm} if side in sides else {  # a front view shows both cheeks
        side: arm, **{s: a for s, a in sides.items() if a}}
    for side, side_arm in shown.items():
        first = side_arms.setdefault((patient, side), (side_arm, line, rel, view))
        if first[0] != side_arm:
            what = f"{side} side" if side in ("left", "right") else f"view '{view}'"
            raise VisitError(f"{where}: patient {patient} {what} has arm '{side_arm}' "
                             f"({rel}, view '{view}') but arm '{first[0]}' on line "
                             f"{first[1]} ({first[2]}, view '{first[3]}')")
    return Photo(file_path, file, patient, visit, day, view, arm, px_per_mm,
                 arm_left=sides["left"], arm_right=sides["right"])


def photo_side(view: str) -> str:
    """The patient's side a view shows: ``left`` (``left``, ``left45``), ``right`` (``right``,
    ``right45``), any case; otherwise the view itself (``front``, ``""``)."""
    return _SIDE_VIEWS.get(view.strip().lower(), view)


def photo_arm(view: str, arm: str = "", arm_left: str = "", arm_right: str = "") -> str:
    """A photo's treatment arm from the manifest cells.

    Parameters
    ----------
    view : str
        The photo's view.
    arm : str
        The per-photo ``arm`` cell; wins when not empty.
    arm_left, arm_right : str
        Arms of the patient's left and right side (split-face designs), used for views of
        that side (:func:`photo_side`).

    Returns
    -------
    str
        ``""`` when no arm applies.
    """
    if arm.strip():
        return arm.strip()
    side = photo_side(view)
    if side == "left":
        return arm_left.strip()
    if side == "right":
        return arm_right.strip()
    return ""


#: Region -> the side of the patient it lies on (for :func:`region_arm`).
REGION_SIDES = {"left_cheek": "left", "right_cheek": "right"}


def region_arm(photo: Photo, region: str) -> str:
    """The treatment arm of one region of a photo.

    A cheek of a split-face design takes its side's arm (``arm_left`` / ``arm_right``), so
    that one whole-face photo holds both arms; every other region (and every region when
    no side arms are given) takes the photo's ``arm``.

    Parameters
    ----------
    photo : Photo
    region : str
        ``whole`` or an anatomical region (:data:`skinmetrics.face.REGIONS`).

    Returns
    -------
    str
    """
    side = REGION_SIDES.get(region)
    side_arm = {"left": photo.arm_left, "right": photo.arm_right}.get(side or "", "")
    return side_arm or photo.arm


def _check_consistent(photos: Sequence[Photo], source: str) -> None:
    """One day per visit label within each patient (arms are checked while reading)."""
    days: dict[tuple[str, str], Photo] = {}
    for p in photos:
        first = days.setdefault((p.patient, p.visit), p)
        if first.day != p.day:
            raise VisitError(f"{source}: visit '{p.visit}' of patient {p.patient} has day "
                             f"{format_day(first.day)} ({first.file}) and day "
                             f"{format_day(p.day)} ({p.file})")


def _scan(root: Path, exclude: Sequence[Path]
          ) -> tuple[list[Photo], list[tuple[str, str]], list[tuple[str, str]]]:
    """Photos named by the grammar in ``root`` and its ``<patient>/`` sub-folders, the image
    files that are not (relative path, reason), and the folders not searched (the results of
    a run: relative path with a trailing ``/``, reason)."""
    photos: list[Photo] = []
    bad: list[tuple[str, str]] = []
    not_searched: list[tuple[str, str]] = []
    excluded = {real_path(p) for p in exclude}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and real_path(here / d) not in excluded)
        rel_dir = here.relative_to(root)
        if rel_dir.parts and (here / "run.json").is_file() and (here / "photos").is_dir():
            not_searched.append((rel_dir.as_posix() + "/", "the results of a skinmetrics run, "
                                 "not searched for photos"))
            dirnames.clear()
            continue
        depth = len(rel_dir.parts)
        for fname in sorted(filenames):
            suffix = Path(fname).suffix.lower()
            if fname.startswith(".") or suffix not in IMAGE_SUFFIXES + UNREAD_PHOTO_SUFFIXES:
                continue
            rel = (rel_dir / fname).as_posix()
            if suffix in UNREAD_PHOTO_SUFFIXES:
                bad.append((rel, f"{suffix[1:].upper()} photos are not read: export them as "
                                 "JPEG (quality 95 or more), 16-bit TIFF or PNG"))
                continue
            if depth > 1:
                bad.append((rel, "more than one sub-folder deep (expected <patient>/<name>)"))
                continue
            folder_patient = rel_dir.parts[0] if depth == 1 else None
            if folder_patient is not None and not _PATIENT_RE.match(folder_patient):
                bad.append((rel, f"folder '{folder_patient}' is not a patient id "
                                 f"({_PATIENT_HELP})"))
                continue
            try:
                parsed = parse_name(fname, folder_patient)
            except ValueError as exc:
                bad.append((rel, str(exc)))
                continue
            photos.append(Photo(here / fname, rel, parsed.patient or "", parsed.visit,
                                parsed.day, parsed.view))
    return photos, sorted(bad, key=lambda item: natural_key(item[0])), not_searched


def _assign_stems(photos: Sequence[Photo]) -> list[Photo]:
    """Unique output folder names: the file stem, prefixed with the patient (then the visit
    and view) where stems collide; compared case-insensitively."""
    def collisions(names: Iterable[str]) -> set[str]:
        count: dict[str, int] = defaultdict(int)
        for n in names:
            count[n.lower()] += 1
        return {n for n, c in count.items() if c > 1}

    stems = [p.path.stem for p in photos]
    clash = collisions(stems)
    stems = [f"{p.patient}_{s}" if s.lower() in clash else s for p, s in zip(photos, stems,
                                                                              strict=True)]
    clash = collisions(stems)
    stems = [f"{p.patient}_{p.visit}{'_' + p.view if p.view else ''}_{p.path.stem}"
             if s.lower() in clash else s for p, s in zip(photos, stems, strict=True)]
    used: set[str] = set()
    out = []
    for p, s in zip(photos, stems, strict=True):
        unique, k = s, 2
        while unique.lower() in used:
            unique, k = f"{s}-{k}", k + 1
        used.add(unique.lower())
        out.append(replace(p, stem=unique))
    return out


def discover(folder: str | os.PathLike, exclude: Sequence[str | os.PathLike] = (),
             strict: bool = False) -> VisitSet:
    """Find the photographs of a visit folder (from ``manifest.csv`` or the file names).

    Parameters
    ----------
    folder : path-like
        The visit folder.
    exclude : sequence of path-like
        Sub-folders not to look into (e.g. an output folder inside the visit folder).
    strict : bool
        Manifest lines that cannot be used and photos of the same patient, visit and view
        are errors; by default they are left out, each with a warning.

    Returns
    -------
    VisitSet
        Photos ordered by patient (natural order), day and view, each with a unique ``stem``.

    Raises
    ------
    VisitError
        The folder is missing or not a folder, the manifest is invalid, two patient ids
        differ only in case; with ``strict`` as said there.
    """
    root = Path(folder)
    if not root.exists():
        raise VisitError(f"visit folder '{root}' not found")
    if not root.is_dir():
        raise VisitError(f"'{root}' is not a folder")
    manifest = root / MANIFEST_NAME
    warnings: list[str] = []
    if manifest.is_file():
        photos, warnings = read_manifest(manifest, strict)
        listed = {real_path(p.path) for p in photos}
        scanned, bad, not_searched = _scan(root, [Path(e) for e in exclude])
        unparseable = [(p.file, f"not listed in {MANIFEST_NAME}")
                       for p in scanned if real_path(p.path) not in listed]
        unparseable += [(rel, f"not listed in {MANIFEST_NAME}") for rel, _ in bad
                        if real_path(root / rel) not in listed]
        unparseable.sort(key=lambda item: natural_key(item[0]))
    else:
        manifest = None
        photos, unparseable, not_searched = _scan(root, [Path(e) for e in exclude])
    unparseable += not_searched
    by_key: dict[tuple[str, int | float, str], list[Photo]] = defaultdict(list)
    for p in photos:
        by_key[(p.patient, p.day, p.view)].append(p)
    twice = [f"two photos of patient {p[0].patient} day {format_day(p[0].day)}"
             + (f" view '{p[0].view}'" if p[0].view else "") + ": "
             + " and ".join(q.file for q in p) for p in by_key.values() if len(p) > 1]
    if twice and strict:
        raise VisitError("\n".join(twice))
    warnings = warnings + [f"skipped: {t} (which one is meant is not known)" for t in twice]
    photos = [p for group in by_key.values() if len(group) == 1 for p in group]
    by_case: dict[str, str] = {}
    for pid in sorted({p.patient for p in photos}):
        other = by_case.setdefault(pid.lower(), pid)
        if other != pid:
            raise VisitError(f"patient ids '{other}' and '{pid}' differ only in case")
    photos = sorted(photos, key=lambda p: (natural_key(p.patient), p.day, natural_key(p.view)))
    return VisitSet(root, _assign_stems(photos), unparseable, manifest, warnings)


def resolve_visit(text: str, photos: Sequence[Photo]) -> tuple[str, object]:
    """Turn a ``--baseline`` / ``--compare`` argument into a visit selector.

    A visit spelling (``day0``, ``d00``, ``baseline``, ``bl``, ``week4`` ...) or a plain
    number selects by day number, so ``day0``, ``d0`` and ``baseline`` are the same visit;
    any other text selects the photos whose visit label is that text (case-insensitive,
    for manifest labels such as ``V2``).

    Returns
    -------
    ("day", number) or ("label", str)

    Raises
    ------
    VisitError
        The text is neither a visit spelling nor a label of any photo.
    """
    text = text.strip()
    try:
        return "day", parse_visit(text)[1]
    except ValueError:
        pass
    try:
        return "day", _parse_number(text)
    except ValueError:
        pass
    labels = {p.visit.lower() for p in photos}
    if text.lower() in labels:
        return "label", text.lower()
    raise VisitError(f"unknown visit '{text}' (expected {_VISIT_HELP}, a day number or a "
                     "visit label of the manifest)")


def _select(photos: Sequence[Photo], selector: tuple[str, object]) -> tuple[str, object] | None:
    """(label, day) of the visit a selector picks among one patient's photos, if any."""
    kind, value = selector
    for p in photos:
        if (p.day == value) if kind == "day" else (p.visit.lower() == value):
            return _label(photos, p.day), p.day
    return None


def _label(photos: Sequence[Photo], day: int | float) -> str:
    """Visit label of a day for one patient (labels joined by '/' if the views disagree)."""
    return "/".join(sorted({p.visit for p in photos if p.day == day}, key=natural_key))


def plan_comparisons(photos: Sequence[Photo], baseline: str | None = None,
                     compare: str | None = None) -> tuple[list[Comparison], list[str]]:
    """Decide the baseline and the compared follow-up visits of every patient.

    Parameters
    ----------
    photos : sequence of Photo
    baseline : str, optional
        Baseline visit (see :func:`resolve_visit`); default: each patient's earliest day.
    compare : str, optional
        The one follow-up visit to compare; default: every visit after the baseline.

    Returns
    -------
    comparisons : list of Comparison
        One per patient that has a baseline, in natural patient order (``visits`` may be
        empty when the patient has no follow-up).
    warnings : list of str
        Patients without the baseline or the compare visit, patient views without a baseline
        photo.

    Raises
    ------
    VisitError
        Unknown visit text, no patient with a baseline photo, no photo at the compare
        visit, or a compare visit that is every patient's baseline.
    """
    if not photos:
        raise VisitError("no photos to compare")
    base_sel = resolve_visit(baseline, photos) if baseline else None
    comp_sel = resolve_visit(compare, photos) if compare else None
    by_patient: dict[str, list[Photo]] = defaultdict(list)
    for p in photos:
        by_patient[p.patient].append(p)
    comparisons: list[Comparison] = []
    warnings: list[str] = []
    any_compare = False
    for patient in sorted(by_patient, key=natural_key):
        own = sorted(by_patient[patient], key=lambda p: (p.day, natural_key(p.view)))
        if base_sel is None:
            base = (_label(own, own[0].day), own[0].day)
            if base[1] != 0:
                warnings.append(f"patient {patient}: baseline is {base[0]} (day "
                                f"{format_day(base[1])}), its earliest visit: it has no day-0 "
                                "photo")
        else:
            base = _select(own, base_sel)
            if base is None:
                warnings.append(f"patient {patient} has no baseline photo ({baseline}); "
                                "no change from baseline is reported")
                continue
        if comp_sel is None:
            days = sorted({p.day for p in own if p.day > base[1]})
            visits = tuple((_label(own, d), d) for d in days)
            if not visits:
                warnings.append(f"patient {patient} has no follow-up visit after "
                                f"{base[0]}")
        else:
            found = _select(own, comp_sel)
            visits = (found,) if found is not None and found[1] != base[1] else ()
            any_compare |= found is not None
            if found is None:
                warnings.append(f"patient {patient} has no photo at the compare visit "
                                f"({compare})")
            elif not visits:
                warnings.append(f"patient {patient}: the compare visit ({compare}) is its "
                                "baseline")
        base_views = {p.view for p in own if p.day == base[1]}
        for view in sorted({p.view for p in own if p.day in {d for _, d in visits}}
                           - base_views, key=natural_key):
            warnings.append(f"patient {patient} view '{view}' has no baseline photo "
                            f"({base[0]}); its change from baseline is empty")
        comparisons.append(Comparison(patient, base[0], base[1], visits))
    if not comparisons:
        raise VisitError(f"no patient has a photo at the baseline visit ({baseline})")
    if comp_sel is not None:
        if not any_compare:
            raise VisitError(f"no photo at the compare visit ({compare})")
        if not any(c.visits for c in comparisons):
            raise VisitError(f"the compare visit ({compare}) is the baseline visit")
    return comparisons, warnings
