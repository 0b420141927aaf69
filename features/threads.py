"""How many CPU threads the model of an extraction process gets beside its decoding workers."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_threads(requested: int, num_workers: int, processes: int, cores: int | None = None) -> int:
    """Torch threads for each of `processes` extraction processes that decode in `num_workers` workers each.

    Torch's default, one thread per core, oversubscribes the cores that decoding workers need, and OpenMP threads
    that spin-wait for each other then lose most of their time: on 2 cores with 2 workers, one thread ran a CPU
    extraction about 4.7x faster than two (`benchmarks/extraction_speed.py` prints both).

    Args:
        requested: a positive count is taken as it is; 0 takes `OMP_NUM_THREADS` when it is set, and chooses
            otherwise.
        num_workers: decoding processes per extraction process.
        processes: local extraction processes.
        cores: the cores to share; `available_cores()` when None.

    Returns:
        `requested` when positive, else `OMP_NUM_THREADS` when set, else the cores left beside every process's
        decoding workers, shared between the processes, and at least 1.
    """
    if requested > 0:
        return requested
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    cores = available_cores() if cores is None else cores
    return max(1, (cores - num_workers * processes) // processes)
