"""Speed of the pretraining input pipeline: region-store reads, and a training batch's collate next to its step.

Needs a demo run (`vlp demo --stages world,features --run-dir runs/demo` makes one) and reads its world's training
captions and region store. Three figures, each against a baseline measured in the same run:

- `store read`: `RegionStore[image_id]` against the same columns read with plain h5py, resolving each column by name
  on every read (`file["features"][a:b]`, ...), as the reader did before it kept the resolved column objects;
- `tags read`: `RegionStore.label_names_of` (the labels column only, what Oscar's tag pollution borrows) against a
  whole-entry read;
- `batch`: building one batch of `configs/pretrain/demo_oscar.yaml`'s data (read from that config, as `vlp fit`
  builds it: batch 64, Oscar pollution, masking) against one training step of its model and optimizer on that
  batch, to show whether one DataLoader worker keeps up.

    .venv/bin/python benchmarks/pretrain_input_speed.py [--run-dir runs/demo] [--reads 2000] [--batches 20]

Measured on 2 cores, torch 2.14.1 (demo world of 2,000 images, 128-d features, a few regions per image): store read
0.18 ms vs 1.0 ms for the name-resolving baseline (5.6x); tags read 0.031 ms vs 0.18 ms for a whole entry (5.8x); a
batch takes 34 ms to build against 153 ms for the model's step on one thread, so one DataLoader worker keeps up with
about 4.5x to spare.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from demo_training import build_batches, build_demo, demo_optimizer, train_step_ms

from vlp.cli.demo import CONFIGS
from vlp.store import RegionStore
from vlp.store import schema as S
from vlp.store.reading import open_h5

COLUMNS = (S.FEATURES, S.BOXES, S.SCORES, S.LABELS)
DEMO_CONFIG = CONFIGS / "pretrain" / "demo_oscar.yaml"


def per_call_ms(function: Callable[[], object], calls: int) -> float:
    """Median over 5 rounds of the mean milliseconds per call."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        rounds.append((time.perf_counter() - started) * 1000 / calls)
    return statistics.median(rounds)


def store_reads(store_path: Path, reads: int) -> None:
    store = RegionStore(store_path)
    ids = random.Random(0).choices(store.image_ids, k=reads)
    with open_h5(store_path, "r") as f:
        offsets = f[S.OFFSETS][:]
        row_of = {image_id: row for row, image_id in enumerate(store.image_ids)}
        cursor = iter(range(10**9))

        def baseline() -> object:
            row = row_of[ids[next(cursor) % reads]]
            start, end = int(offsets[row]), int(offsets[row + 1])
            return [f[name][start:end] for name in COLUMNS]

        ours_cursor = iter(range(10**9))
        ours = per_call_ms(lambda: store[ids[next(ours_cursor) % reads]], reads)
        theirs = per_call_ms(baseline, reads)
    print(f"store read: {ours:.3f} ms vs {theirs:.3f} ms resolving columns by name ({theirs / ours:.1f}x)")
    tags_cursor, entry_cursor = iter(range(10**9)), iter(range(10**9))
    tags = per_call_ms(lambda: store.label_names_of(ids[next(tags_cursor) % reads]), reads)
    whole = per_call_ms(lambda: store[ids[next(entry_cursor) % reads]].label_names, reads)
    print(f"tags read: {tags:.3f} ms vs {whole:.3f} ms for a whole entry ({whole / tags:.1f}x)")


def batch_against_step(run_dir: Path, batches: int) -> None:
    """Builds the data and model of `configs/pretrain/demo_oscar.yaml` on `run_dir`, as `vlp fit` would."""
    module, data = build_demo(DEMO_CONFIG, run_dir)
    built, build_ms = build_batches(data, batches)
    optimizer = demo_optimizer(module, batches)
    objectives = list(module.objectives.active)
    step_times = [train_step_ms(module, optimizer, batch, objectives) for batch in built]
    step_ms = float(np.median(step_times[1:]))
    print(f"batch: {build_ms:.1f} ms to build vs {step_ms:.1f} ms for the model's step ({step_ms / build_ms:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="a demo run with world/ and features/")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    store_reads(args.run_dir / "features" / "regions.h5", args.reads)
    batch_against_step(args.run_dir, args.batches)


if __name__ == "__main__":
    main()
