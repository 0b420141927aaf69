"""Images per second of the whole extraction pipeline against the bare model forward on the same images, same run.

Pipeline: `features.pipeline.extract_images`, i.e. JPEG decoding in DataLoader workers, the backend's forward,
RoIAlign / box-head pooling of the regions, copies to the host, and crash-safe writes to an HDF5 region store.
Baseline: the backend's model alone on the same images, already decoded in memory: for given-boxes the backbone with
its input resizing and normalisation; for torchvision the detector's forward on [0, 1] tensors, which resizes,
normalises and post-processes itself. Overhead = pipeline time / baseline time - 1; the target is under 10%.

Two variants of the pipeline run beside it: with one torch thread (as `OMP_NUM_THREADS=1` gives) instead of the
count `features.threads.cpu_threads` chooses, and without the stores' Fletcher32 checksums, which shows their cost.

Both run alternately, after one warm-up round each, and the medians are compared (the machine may be shared). Wall
time is the figure that counts; the CPU time of the main process is printed beside it as the steadier figure on a
shared CPU (decoding workers run in other processes and are not in it).

    .venv/bin/python benchmarks/extraction_speed.py [--backend given-boxes|torchvision] [--device cuda] [--images 64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw

from features.backends.base import Backend, ImageRecord
from features.backends.common import image_tensor
from features.backends.given_boxes import GivenBoxesBackend
from features.backends.torchvision_backend import TorchvisionBackend
from features.decode import Decoder
from features.extract import open_writer
from features.failures import FailureLog
from features.inputs import ImageItem, list_images
from features.pipeline import extract_images
from features.threads import cpu_threads


def make_dataset(root: Path, count: int, height: int, width: int, boxes: int, seed: int = 0) -> Path:
    """JPEG photos-to-be of coloured shapes, and a COCO instances json with `boxes` boxes per image."""
    import json

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    images, annotations = [], []
    for image_id in range(count):
        image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
        canvas = ImageDraw.Draw(image)
        for _ in range(boxes):
            x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
            w, h = int(rng.integers(20, width - x)), int(rng.integers(20, height - y))
            canvas.ellipse((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "bbox": [x, y, w, h], "category_id": 1, "iscrowd": 0}
            )
        image.save(root / "images" / f"{image_id:06d}.jpg", quality=90)
        images.append({"id": image_id, "file_name": f"{image_id:06d}.jpg", "height": height, "width": width})
    path = root / "instances.json"
    categories = [{"id": 1, "name": "blob"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def build_backend(args: argparse.Namespace, root: Path, instances: Path) -> Backend:
    """The backend under test, with seeded random weights saved to (and loaded from) a file as real weights are."""
    torch.manual_seed(0)
    weights = root / "weights.pth"
    if args.backend == "given-boxes":
        torch.save(torchvision.models.get_model(args.backbone, weights=None).state_dict(), weights)
        return GivenBoxesBackend(
            str(instances),
            args.backbone,
            str(weights),
            min_size=args.min_size,
            max_size=args.max_size,
            device=args.device,
        )
    model = torchvision.models.get_model(args.detector, weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), weights)
    return TorchvisionBackend(
        args.detector, str(weights), min_size=args.min_size, max_size=args.max_size, device=args.device
    )


@torch.inference_mode()
def time_bare(backend: Backend, records: list[ImageRecord], batch_size: int) -> tuple[float, float]:
    """Wall and CPU seconds of the model forward over every batch of decoded images."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        if isinstance(backend, GivenBoxesBackend):
            backend.extractor(torch.stack([backend.model_input(record) for record in chunk]))
        else:
            backend.model([image_tensor(record.pixels, backend.device) for record in chunk])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_pipeline(
    backend: Backend,
    items: list[ImageItem],
    store: Path,
    batch_size: int,
    workers: int,
    threads: int,
    checksums: bool = True,
) -> tuple[float, float]:
    """Wall and CPU seconds of `extract_images` into a fresh store, with `threads` torch threads."""
    torch.set_num_threads(threads)
    wall, cpu = time.perf_counter(), time.process_time()
    with (
        open_writer(store, backend, backend.provenance(), if_exists="overwrite", checksums=checksums) as writer,
        FailureLog(store.with_suffix(".failures.jsonl")) as failures,
    ):
        summary = extract_images(
            items, backend, writer, failures, Decoder(), batch_size=batch_size, num_workers=workers
        )
    assert summary.extracted == len(items), summary
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("given-boxes", "torchvision"), default="given-boxes")
    parser.add_argument("--backbone", default="resnet50", help="given-boxes backbone")
    parser.add_argument("--detector", default="fasterrcnn_resnet50_fpn", help="torchvision detection model")
    parser.add_argument("--min-size", type=int, default=600)
    parser.add_argument("--max-size", type=int, default=1000)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--boxes", type=int, default=10, help="given boxes per image")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="decoding processes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of each")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: extract-features' choice)")
    args = parser.parse_args(argv)
    torch_default = torch.get_num_threads()
    threads = cpu_threads(args.threads, 1)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        instances = make_dataset(root, args.images, args.height, args.width, args.boxes)
        backend = build_backend(args, root, instances)
        items = list_images(instances, root / "images")
        records = [Decoder()(item) for item in items]
        assert all(isinstance(record, ImageRecord) for record in records)
        model = args.backbone if args.backend == "given-boxes" else args.detector
        print(
            f"{args.backend} ({model}), {args.images} JPEGs {args.width}x{args.height} resized to {args.min_size}/"
            f"{args.max_size}, batch {args.batch_size}, {args.workers} decoding workers, device {args.device}, "
            f"{threads} torch threads (torch's default: {torch_default}), torch {torch.__version__}"
        )
        store, size, workers = root / "store.h5", args.batch_size, args.workers
        variants = {
            "bare": lambda: (torch.set_num_threads(threads), time_bare(backend, records, size))[1],  # type: ignore[arg-type]
            "pipeline": lambda: time_pipeline(backend, items, store, size, workers, threads),
            "one thread": lambda: time_pipeline(backend, items, store, size, workers, 1),
            "no checksums": lambda: time_pipeline(backend, items, store, size, workers, threads, checksums=False),
        }
        times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in variants}
        for repeat in range(args.repeats + 1):
            measured = {name: run() for name, run in variants.items()}
            if repeat:  # the first round warms up kernels, allocator and page cache
                for name, (wall, cpu) in measured.items():
                    times[name]["wall"].append(wall)
                    times[name]["cpu"].append(cpu)
    medians = {name: {kind: statistics.median(v) for kind, v in kinds.items()} for name, kinds in times.items()}
    labels = {
        "bare": "bare model forward",
        "pipeline": "whole pipeline",
        "one thread": "... 1 thread",
        "no checksums": "... no checksums",
    }
    for name, label in labels.items():
        wall, cpu = medians[name]["wall"], medians[name]["cpu"]
        print(f"{label:<22} {args.images / wall:8.2f} images/s  (wall {wall:.2f} s, main-process CPU {cpu:.2f} s)")
    pipeline = medians["pipeline"]["wall"]
    overhead, speedup = pipeline / medians["bare"]["wall"] - 1, medians["one thread"]["wall"] / pipeline
    print(f"pipeline overhead: {overhead:+.1%} of the bare forward's wall time (target < 10%)")
    print(f"the chosen {threads} threads against 1: {speedup:.2f}x as fast")
    print(f"checksums cost {pipeline / medians['no checksums']['wall'] - 1:+.1%} of the pipeline's wall time")


if __name__ == "__main__":
    main()
