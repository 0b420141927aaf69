"""Speed of the pretraining input pipeline: region-store reads, and a training batch's collate next to its step.

Needs a demo run (`vlp demo --stages world,features --run-dir runs/demo` makes one) and reads its world's training
captions and region store. Five figures, each against a baseline measured in the same run:

- `store read`: `RegionStore[image_id]` against the same columns read with plain h5py, resolving each column by name
  on every read (`file["features"][a:b]`, ...), as the reader did before it kept the resolved column objects;
- `tags read`: `RegionStore.label_names_of` (the labels column only, what Oscar's tag pollution borrows) against a
  whole-entry read;
- `batch`: building one batch of `configs/pretrain/demo_oscar.yaml`'s data (read from that config, as `vlp fit`
  builds it: batch 64, Oscar pollution, masking) against one training step of its model and optimizer on that
  batch, to show whether one DataLoader worker keeps up;
- `tsv decode`: on a temporary store of bottom-up-attention-sized entries (2048-d, 10 to 100 regions an image), the
  store read against decoding the same regions from Oscar's TSV lines (base64 float32 features with the 6-d box
  geometry appended, as VinVL's `features.tsv`, and the JSON labels line of `predictions.tsv`), the per-image work of
  a TSV-reading data loader; goal: the store at least 5x faster;
- `bert-base`: one batch of 32 built by the loader against one BERT-base training step on a batch of 32
  (`pretrain_step_speed`'s COCO-like mix, fp32); goal: the loader at least 10x faster. The demo store's features are
  128-d, BERT-base's 2048-d: the reads of a real store move 16x the feature bytes.

    .venv/bin/python benchmarks/pretrain_input_speed.py [--run-dir runs/demo] [--reads 2000] [--batches 20]

Measured on 2 cores, torch 2.14.1 (demo world of 2,000 images, 128-d features, a few regions per image): store read
0.18 ms vs 1.0 ms for the name-resolving baseline (5.6x); tags read 0.031 ms vs 0.18 ms for a whole entry (5.8x); a
batch takes 34 ms to build against 153 ms for the model's step on one thread, so one DataLoader worker keeps up with
about 4.5x to spare.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from demo_training import build_batches, build_demo, demo_optimizer, train_step_ms
from pretrain_step_speed import OBJECTIVES, make_batch

from features.importers.tsv import decode_array
from vlp.cli.demo import CONFIGS
from vlp.model import VLConfig
from vlp.pretrain import PretrainModule
from vlp.pretrain.mixing import ObjectiveWeights
from vlp.store import RegionStore, RegionStoreWriter
from vlp.store import schema as S
from vlp.store.geometry import box_geometry
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


def realistic_store(path: Path, images: int, seed: int = 0) -> RegionStore:
    """A store of bottom-up-attention-sized entries: 2048-d features, 10 to 100 regions an image."""
    rng = np.random.default_rng(seed)
    with RegionStoreWriter(path, 2048, provenance={"backend": "benchmark"}) as writer:
        for index in range(images):
            count = int(rng.integers(10, 101))
            corners = rng.uniform(0, 300, size=(count, 2)).astype(np.float32)
            writer.add(
                image_id=str(index),
                image_size=(480, 640),
                features=rng.normal(size=(count, 2048)).astype(np.float32),
                boxes=np.concatenate([corners, corners + rng.uniform(10, 300, size=(count, 2))], axis=1),
                scores=rng.uniform(size=count).astype(np.float32),
                labels=[f"object{j}" for j in rng.integers(0, 1600, count)],
            )
    return RegionStore(path)


def tsv_decoding(reads: int, images: int = 300) -> None:
    """The store's read of an image against decoding the same regions from Oscar's TSV lines (encoded beforehand)."""
    with tempfile.TemporaryDirectory() as folder:
        store = realistic_store(Path(folder) / "regions.h5", images)
        ids = random.Random(1).choices(store.image_ids, k=reads)
        lines = {}
        for image_id in store.image_ids:
            entry = store[image_id]
            height, width = entry.image_size
            geometry = box_geometry(entry.boxes, entry.image_size)
            features = np.concatenate([entry.features, geometry], axis=1).astype(np.float32)
            labels = [
                {"class": name, "conf": float(score), "rect": [float(v) for v in box]}
                for name, score, box in zip(entry.label_names, entry.scores, entry.boxes, strict=True)
            ]
            lines[image_id] = (
                f"{image_id}\t{len(features)}\t{base64.b64encode(features.tobytes()).decode()}",
                f"{image_id}\t{json.dumps({'image_h': height, 'image_w': width, 'objects': labels})}",
            )

        def decode(image_id: str) -> object:
            features_line, labels_line = lines[image_id]
            _, count, encoded = features_line.split("\t")
            labels = json.loads(labels_line.split("\t", 1)[1])
            return decode_array(encoded, np.float32, (int(count), -1), image_id), labels

        ours_cursor, theirs_cursor = iter(range(10**9)), iter(range(10**9))
        ours = per_call_ms(lambda: store[ids[next(ours_cursor) % reads]], reads)
        theirs = per_call_ms(lambda: decode(ids[next(theirs_cursor) % reads]), reads)
    print(
        f"tsv decode (2048-d, 10-100 regions): store read {ours:.3f} ms vs {theirs:.3f} ms decoding the TSV lines "
        f"({theirs / ours:.1f}x)"
    )


def loader_against_bert_base(run_dir: Path, batches: int) -> None:
    """A batch of 32 built as `vlp fit` builds the demo's, against a BERT-base training step on 32 examples."""
    _, data = build_demo(DEMO_CONFIG, run_dir, "--data.init_args.loader.batch_size=32")
    _, build_ms = build_batches(data, batches)
    config = VLConfig(vocab_size=30522, region_feature_dim=2048, hidden_dropout=0.0, attention_dropout=0.0)
    module = PretrainModule(config, ObjectiveWeights(mlm=1.0, contrastive=1.0), contrastive_classes=2).train()
    optimizer = demo_optimizer(module, batches)
    batch = make_batch("mix", config, 32, seed=1)
    step_ms = float(np.median([train_step_ms(module, optimizer, batch, OBJECTIVES) for _ in range(3)][1:]))
    print(
        f"bert-base: {build_ms:.1f} ms to build a batch of 32 vs {step_ms:.0f} ms for the step "
        f"({step_ms / build_ms:.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="a demo run with world/ and features/")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    store_reads(args.run_dir / "features" / "regions.h5", args.reads)
    batch_against_step(args.run_dir, args.batches)
    tsv_decoding(args.reads)
    loader_against_bert_base(args.run_dir, args.batches)


if __name__ == "__main__":
    main()
