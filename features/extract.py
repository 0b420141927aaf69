"""A whole extraction run: list the images, split them into shards, run one process per shard, report.

With one local process the shard runs in this process; with several, each runs in a spawned process (CUDA and h5py
handles do not survive `fork`) that builds its own backend on its own device and writes its own shard file.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

import vlp
from features.backends.base import Backend
from features.config import ExtractionConfig
from features.failures import FailureLog, failures_path
from features.inputs import ImageItem, list_images
from features.pipeline import ShardSummary, extract_images
from features.progress import Progress
from features.sharding import ShardPlan, check_layout, plan_shards, select_shard
from features.threads import cpu_threads
from vlp.store import RegionStoreWriter


def run_extraction(config: ExtractionConfig) -> list[ShardSummary]:
    """Extracts the images of `config.input` into the store `config.output` (this machine's shards of it).

    Returns:
        One summary per local process.

    Raises:
        DuplicateImageIdError, FileNotFoundError, ValueError: bad inputs, found before any work starts.
        RegionStoreError: a store that cannot be resumed with these settings.
    """
    items = list_images(config.input, config.image_root)
    run = config.run
    plans = plan_shards(run.shard_index, run.shard_count, run.processes, run.device)
    check_layout(config.output, plans[0].count)
    shares = [select_shard(items, plan.index, plan.count) for plan in plans]
    threads = cpu_threads(run.torch_threads, len(plans))
    if len(plans) == 1:
        return [_extract_in_child(config, shares[0], plans[0], threads)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(plans), mp_context=context) as pool:
        futures = [
            pool.submit(_extract_in_child, config, share, plan, threads)
            for share, plan in zip(shares, plans, strict=True)
        ]
        return [future.result() for future in futures]


def _extract_in_child(
    config: ExtractionConfig, items: Sequence[ImageItem], plan: ShardPlan, threads: int
) -> ShardSummary:
    """`extract_shard` with `threads` torch CPU threads, restored after (a GPU run keeps torch's own setting)."""
    if plan.device.startswith("cuda"):
        return extract_shard(config, items, plan)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return extract_shard(config, items, plan)
    finally:
        torch.set_num_threads(before)


def extract_shard(config: ExtractionConfig, items: Sequence[ImageItem], plan: ShardPlan) -> ShardSummary:
    """Extracts `items` (one shard's images) into the plan's shard file with a backend built on the plan's device."""
    backend = config.backend.build(plan.device)
    path = plan.path(config.output)
    provenance = {
        **backend.provenance(),
        "class_path": config.backend.class_path,
        "decode": config.decode.settings(),
        "code_version": vlp.__version__,
    }
    run = config.run
    progress = Progress(f"shard {plan.index}/{plan.count}", run.progress, run.log_every_s, position=plan.local_rank)
    with (
        open_writer(path, backend, provenance, if_exists=run.if_exists, commit_every=run.commit_every) as writer,
        FailureLog(failures_path(path)) as failures,
    ):
        return extract_images(
            items,
            backend,
            writer,
            failures,
            config.decode,
            batch_size=run.batch_size,
            num_workers=run.num_workers,
            progress=progress,
        )


def open_writer(
    path: Path,
    backend: Backend,
    provenance: dict[str, Any],
    *,
    if_exists: str = "resume",
    commit_every: int = 64,
    checksums: bool = True,
) -> RegionStoreWriter:
    """The store writer of a shard, with the backend's feature size and vocabularies (see `RegionStoreWriter` for
    the keyword arguments)."""
    return RegionStoreWriter(
        path,
        backend.feature_dim,
        provenance=provenance,
        # Distinct names in the backend's order, so that every shard numbers labels alike.
        label_names=list(dict.fromkeys(backend.label_names)),
        attribute_names=list(dict.fromkeys(backend.attribute_names)),
        max_attributes_per_region=backend.max_attributes_per_region,
        if_exists=if_exists,  # type: ignore[arg-type]
        commit_every=commit_every,
        checksums=checksums,
    )
