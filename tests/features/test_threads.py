"""The torch thread count of an extraction process: the cores it may really use, shared between the processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.threads import available_cores, cgroup_cpu_limit, cpu_threads


@pytest.fixture(autouse=True)
def no_omp_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.parametrize(("cores", "processes", "expected"), [(2, 1, 2), (16, 2, 8), (16, 3, 5), (2, 4, 1)])
def test_the_cores_are_shared_between_the_processes(cores: int, processes: int, expected: int) -> None:
    assert cpu_threads(0, processes, cores) == expected


def test_a_request_or_omp_num_threads_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_threads(3, 1, cores=2) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert cpu_threads(0, 1, cores=2) == 5


def test_a_cgroup_quota_caps_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)), raising=False)  # a 64-core host
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker --cpus=1.5
    assert cgroup_cpu_limit(tmp_path) == 1.5 and available_cores(tmp_path) == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None and available_cores(tmp_path) == 64
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("400000\n")  # cgroup v1, 4 cores
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cores(tmp_path) == 4
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert available_cores(tmp_path) == 64
