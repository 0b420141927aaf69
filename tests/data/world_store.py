"""A region store for a generated world, built from its COCO instances with cheap crop features (no detector).

Each annotated box becomes a region whose feature is a fixed random projection of its 8x8 RGB crop, so that colour
and shape survive into the features; labels and attributes come from the annotations. Tests use it in place of the
`features/` extractors, and so can the demo check.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from vlp.store import RegionStoreWriter
from vlp.world import SPLITS, WorldFiles

CROP = 8


def crop_features(pixels: np.ndarray, box: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """[D] feature of one pixel box x1, y1, x2, y2 of an [H, W, 3] uint8 image."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    crop = Image.fromarray(pixels[max(y1, 0) : max(y2, y1 + 1), max(x1, 0) : max(x2, x1 + 1)])
    small = np.asarray(crop.resize((CROP, CROP), Image.BILINEAR), dtype=np.float32) / 255.0
    return (small.reshape(-1) - 0.5) @ projection


def build_world_store(world: WorldFiles, path: Path, feature_dim: int = 32, seed: int = 0) -> Path:
    """Writes the regions of every split of `world` into one store at `path`."""
    projection = np.random.default_rng(seed).standard_normal((CROP * CROP * 3, feature_dim)).astype(np.float32)
    projection /= np.sqrt(CROP * CROP * 3 / 4)
    provenance = {"backend": "tests.world_store", "feature_dim": feature_dim, "seed": seed}
    with RegionStoreWriter(
        path, feature_dim, provenance=provenance, max_attributes_per_region=2, if_exists="overwrite"
    ) as writer:
        for split in SPLITS:
            instances = json.loads(Path(world.instances[split]).read_text())
            names = {category["id"]: category["name"] for category in instances["categories"]}
            boxes_of: dict[int, list[dict]] = {}
            for annotation in instances["annotations"]:
                boxes_of.setdefault(annotation["image_id"], []).append(annotation)
            for image in instances["images"]:
                pixels = np.asarray(Image.open(world.image_dir / image["file_name"]).convert("RGB"))
                annotations = boxes_of.get(image["id"], [])
                boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in annotations)], np.float32)
                writer.add(
                    image["id"],
                    (image["height"], image["width"]),
                    np.stack([crop_features(pixels, box, projection) for box in boxes]),
                    boxes,
                    np.ones(len(boxes), np.float32),
                    [names[a["category_id"]] for a in annotations],
                    attributes=[a["attributes"] for a in annotations],
                    attribute_scores=[[1.0] * len(a["attributes"]) for a in annotations],
                )
    return path
