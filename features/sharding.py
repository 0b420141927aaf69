"""Which images a shard takes, which shard files a run writes, and on which device each process runs.

An image belongs to shard `crc32(image_id) % count`: the assignment depends on the id alone, never on listing order, so
machines that list the same dataset independently split it the same way, and an image added later does not move the
others. A run on `--shard-count` machines with `processes` local processes each writes `shard_count * processes` shard
files, `NAME.<global index>-of-<total>.h5`, which `vlp.store.RegionStore(NAME.h5)` reads as one store.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from features.inputs import ImageItem
from vlp.store import shard_path
from vlp.store.reader import SHARD_PATTERN


def shard_of(image_id: str, count: int) -> int:
    """The shard (of `count`) that an image id belongs to."""
    return zlib.crc32(image_id.encode("utf-8")) % count


def select_shard(items: Sequence[ImageItem], index: int, count: int) -> list[ImageItem]:
    """The items of shard `index` of `count`, in their listed order."""
    return [item for item in items if shard_of(item.image_id, count) == index]


@dataclass(frozen=True)
class ShardPlan:
    """One process of a run: the shard it writes and its device.

    Attributes:
        index: global shard index (machine shard index * processes + local process).
        count: total shards over all machines.
        device: torch device string of the process.
        local_rank: the process's number on this machine.
    """

    index: int
    count: int
    device: str
    local_rank: int

    def path(self, output: str | Path) -> Path:
        """The shard file this process writes for a store named `output`."""
        return shard_path(output, self.index, self.count)


def plan_shards(shard_index: int, shard_count: int, processes: int, device: str) -> list[ShardPlan]:
    """The local processes of machine `shard_index` of `shard_count`.

    Args:
        shard_index: this machine's shard, in [0, shard_count).
        shard_count: machines (or independent runs) sharing the dataset.
        processes: local processes; 0 means one per CUDA device (one on a machine without CUDA).
        device: "auto", "cpu", "cuda" or "cuda:N"; with several processes, "auto" and "cuda" give process i the
            device `cuda:(i mod number of devices)`.

    Raises:
        ValueError: an out-of-range shard index or count, or a negative process count.
    """
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ValueError(
            f"need 0 <= shard_index < shard_count, got shard_index={shard_index}, shard_count={shard_count}"
        )
    if processes < 0:
        raise ValueError(f"processes must be >= 0 (0: one per CUDA device), got {processes}")
    gpus = torch.cuda.device_count()
    if processes == 0:
        processes = max(1, gpus)
    plans = []
    for local in range(processes):
        local_device = device
        if device in ("auto", "cuda") and gpus:
            local_device = f"cuda:{local % gpus}"
        elif device == "auto":
            local_device = "cpu"
        plans.append(ShardPlan(shard_index * processes + local, shard_count * processes, local_device, local))
    return plans


def check_layout(output: str | Path, count: int) -> None:
    """Refuses to write `count` shards where the store already has files of another layout.

    Resuming with another number of shards would assign images to other files and duplicate the ones already written.
    """
    output = Path(output)
    existing = {output} if output.exists() and output.stat().st_size else set()
    existing |= {p for p in output.parent.glob(f"{output.stem}.*-of-*.h5") if SHARD_PATTERN.search(p.name)}
    wanted_suffix = "" if count == 1 else f"-of-{count:05d}.h5"
    other = sorted(str(p) for p in existing if not (p.name.endswith(wanted_suffix) if count > 1 else p == output))
    if other:
        raise ValueError(
            f"{output}: the store already has files of another shard layout ({', '.join(other[:3])}); resume with "
            f"the same number of shards and processes, or write to a new path"
        )
