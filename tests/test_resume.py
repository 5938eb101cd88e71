"""A run killed in the middle (SIGKILL) and started again with the same command measures
only the photos it had not finished and writes the same tables as a run never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skinmetrics.batch import run_batch
from skinmetrics.synthetic import write_visit_set

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

TABLES = ("measurements.csv", "change_from_baseline.csv", "summary.csv", "cohort_stats.csv")


def _command(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-c", "from skinmetrics.cli import app; app()", "run", str(folder),
            "--out", str(out), "--jobs", "1"]


def _progress(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("[")]


def _tables(out: Path) -> dict[str, bytes]:
    files = [out / name for name in TABLES] + sorted((out / "patients").glob("*.csv"))
    return {f.relative_to(out).as_posix(): f.read_bytes() for f in files}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    folder = tmp_path / "visits"
    write_visit_set(folder, patients=1, shape=(200, 260), px_per_mm=25.0)
    n_photos = len(list(folder.glob("*.jpg")))
    # a run never stopped (in this process: the same code, no interpreter to start)
    assert run_batch(folder, tmp_path / "whole", jobs=1, argv=[]).exit_code == 0
    # the same run killed once two photos are done
    out = tmp_path / "out"
    proc = subprocess.Popen(_command(folder, out), stderr=subprocess.PIPE, text=True,
                            stdout=subprocess.DEVNULL)
    done, deadline = 0, time.monotonic() + 300
    while done < 2 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        assert line, "the run ended before it could be killed"
        done += line.startswith("[")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    assert not (out / "measurements.csv").exists()  # no earlier tables beside new photos
    # started again: the finished photos are reused, the rest measured
    again = subprocess.run(_command(folder, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    lines = _progress(again.stderr)
    assert len(lines) == n_photos
    reused = [line for line in lines if line.endswith("reused (0.0 s)")]
    assert len(reused) >= 2 and len(reused) < n_photos
    assert _tables(out) == _tables(tmp_path / "whole")
