"""A results folder read back: run.json and the CSV tables as their cells were written
(the input of :mod:`skinmetrics.report`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .tables import COHORT_COLUMNS, MEASUREMENT_COLUMNS, PATIENT_KEY_COLUMNS, SUMMARY_COLUMNS
from .visits import natural_key

__all__ = ["RESULT_FILES", "ReportError", "Results", "load_results", "patient_ids",
           "cell_number"]

#: Files that make a folder a results folder (written by :func:`skinmetrics.batch.run_batch`).
RESULT_FILES = ("run.json", "measurements.csv", "summary.csv", "cohort_stats.csv")
_PHOTO_KEYS = {"file", "stem", "patient", "visit", "day", "status"}


class ReportError(ValueError):
    """The report cannot be made (not a results folder, unwritable output; one line)."""


@dataclass
class Results:
    """The files of a results folder, CSV cells as written (text; ``""`` when empty).

    Attributes
    ----------
    folder : Path
    run : dict
        run.json.
    measurements, summary, cohort : DataFrame
        measurements.csv, summary.csv and cohort_stats.csv.
    patients : dict of str -> DataFrame
        ``patients/<id>.csv`` of every patient that has one.
    """

    folder: Path
    run: dict
    measurements: pd.DataFrame
    summary: pd.DataFrame
    cohort: pd.DataFrame
    patients: dict[str, pd.DataFrame] = field(default_factory=dict)


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A result table as text cells; it must have ``columns``."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {path} ({' '.join(str(exc).split())})") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportError(f"{path} has no column {', '.join(missing)} (not a table of this "
                          "skinmetrics version)")
    return frame


def load_results(folder: str | os.PathLike) -> Results:
    """Read a results folder written by :func:`skinmetrics.batch.run_batch`.

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    Results

    Raises
    ------
    ReportError
        When the folder does not exist or lacks one of :data:`RESULT_FILES`, or a file
        cannot be read or lacks the columns of :mod:`skinmetrics.tables`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"results folder '{folder}' does not exist")
    missing = [name for name in RESULT_FILES if not (folder / name).is_file()]
    if missing:
        raise ReportError(f"'{folder}' is not a skinmetrics results folder (no "
                          f"{', '.join(missing)})")
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {folder / 'run.json'} ({exc})") from exc
    photos = run.get("photos") if isinstance(run, dict) else None
    if not isinstance(photos, list) or not all(isinstance(p, dict) and _PHOTO_KEYS <= set(p)
                                               for p in photos):
        raise ReportError(f"'{folder / 'run.json'}' is not the run.json of skinmetrics run "
                          f"(each photo needs {', '.join(sorted(_PHOTO_KEYS))})")
    patients = {}
    for pid in patient_ids(run):
        path = folder / "patients" / f"{pid}.csv"
        if path.is_file():
            patients[pid] = _read_csv(path, PATIENT_KEY_COLUMNS)
    return Results(folder, run, _read_csv(folder / "measurements.csv", MEASUREMENT_COLUMNS),
                   _read_csv(folder / "summary.csv", SUMMARY_COLUMNS),
                   _read_csv(folder / "cohort_stats.csv", COHORT_COLUMNS), patients)


def patient_ids(run: Mapping) -> list[str]:
    """The patients of a run, in natural order."""
    return sorted({p["patient"] for p in run["photos"]}, key=natural_key)


def cell_number(text: str) -> float:
    """A CSV cell as float (NaN when empty)."""
    return float(text) if text != "" else math.nan
