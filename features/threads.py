"""How many CPU threads the model of an extraction process gets.

Torch starts one thread per core it sees, and in a container that may be every core of the host while the container
may use two: dozens of OpenMP threads then spin-wait for each other on those two cores, and an extraction runs
several times slower than with one thread. The count here is the cores the process may really use (its affinity mask
and its cgroup's CPU quota), shared between the local extraction processes. Decoding workers are not subtracted: they
mostly wait for the model (on 2 cores, 2 threads beside one decoding worker ran the demo extraction 1.6x faster than
1 thread; `benchmarks/extraction_speed.py` prints both).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in cores (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over its period);
    None when there is none or it cannot be read."""
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").is_file():
            quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
            return None if quota_us <= 0 else quota_us / int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None


def available_cores(root: Path = CGROUP) -> int:
    """The cores this process may run on: its affinity mask (which `taskset` and cpusets narrow), capped by its
    cgroup's CPU quota (which `docker --cpus` sets), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    return max(1, min(cores, math.ceil(limit))) if limit else cores


def cpu_threads(requested: int, processes: int, cores: int | None = None) -> int:
    """Torch threads for each of `processes` local extraction processes.

    Args:
        requested: a positive count is taken as it is; 0 takes `OMP_NUM_THREADS` when it is set, and chooses
            otherwise.
        processes: local extraction processes sharing the cores.
        cores: the cores to share; `available_cores()` when None.

    Returns:
        `requested` when positive, else `OMP_NUM_THREADS` when set, else the available cores shared between the
        processes, at least 1.
    """
    if requested > 0:
        return requested
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    cores = available_cores() if cores is None else cores
    return max(1, cores // processes)
