"""A run sent to a Dask distributed cluster writes the same tables as a local run."""

from __future__ import annotations

import pytest

from skinmetrics.batch import run_batch
from skinmetrics.synthetic import write_visit_set

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

SHAPE, PPM = (360, 480), 25.0
TABLES = ["measurements.csv", "change_from_baseline.csv", "summary.csv", "cohort_stats.csv",
          "patients/P01.csv", "patients/P02.csv"]


def test_a_cluster_run_equals_a_local_run(tmp_path):
    write_visit_set(tmp_path / "visits", patients=2, shape=SHAPE, px_per_mm=PPM)
    local = run_batch(tmp_path / "visits", tmp_path / "local", jobs=1, px_per_mm=PPM,
                      chart="none")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_batch(tmp_path / "visits", tmp_path / "cluster", px_per_mm=PPM,
                           chart="none", scheduler=cluster.scheduler_address)
    assert local.exit_code == remote.exit_code == 0
    assert [r.status for r in remote.results] == ["ok"] * 6
    # baselines were aligned to on the workers: every follow-up has its baseline values
    follow_ups = [r for r in remote.results if r.photo.day > 0]
    assert len(follow_ups) == 4 and all(r.record["baseline_metrics"] for r in follow_ups)
    for name in TABLES:
        assert ((tmp_path / "cluster" / name).read_bytes()
                == (tmp_path / "local" / name).read_bytes()), name


def test_no_scheduler_at_the_address_is_a_one_line_error(tmp_path):
    import socket

    from skinmetrics.batch import BatchError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_visit_set(tmp_path / "visits", patients=1, shape=SHAPE, px_per_mm=PPM)
    with pytest.raises(BatchError, match="no Dask scheduler") as err:
        run_batch(tmp_path / "visits", tmp_path / "out", px_per_mm=PPM, chart="none",
                  scheduler=f"tcp://127.0.0.1:{port}")
    message = str(err.value)
    assert "\n" not in message and "refused" in message.lower()  # found out at once
    assert not (tmp_path / "out" / "measurements.csv").exists()
