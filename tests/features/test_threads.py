"""The torch thread count of an extraction process leaves the decoding workers their cores."""

from __future__ import annotations

import pytest

from features.threads import cpu_threads


@pytest.fixture(autouse=True)
def no_omp_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.parametrize(
    ("cores", "workers", "processes", "expected"),
    [
        (2, 2, 1, 1),  # the 2-core case that ran 4.7x faster with one thread
        (16, 2, 1, 14),
        (16, 2, 2, 6),  # 16 cores less 2 x 2 workers, shared by 2 processes
        (4, 0, 1, 4),  # decoding in the main process: every core
        (2, 4, 2, 1),  # never fewer than one
    ],
)
def test_the_model_gets_the_cores_the_decoders_leave(cores: int, workers: int, processes: int, expected: int) -> None:
    assert cpu_threads(0, workers, processes, cores) == expected


def test_a_request_or_omp_num_threads_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_threads(3, 2, 1, cores=2) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert cpu_threads(0, 2, 1, cores=2) == 5
