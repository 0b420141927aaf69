"""PNG pictures of chosen images of a store with their boxes and tags (label, score and attributes) drawn on them.

The images are found through the same inputs as extraction (folder, list file or COCO json); an image that cannot be
found or decoded is drawn on a grey canvas of its stored size, so the boxes can still be looked at.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from features.decode import Decoder
from features.inputs import list_images
from vlp.store import RegionEntry, RegionStore

logger = logging.getLogger(__name__)

CANVAS_GREY = (128, 128, 128)


def draw_entry(entry: RegionEntry, pixels: np.ndarray, max_boxes: int = 36) -> Image.Image:
    """The image with the `max_boxes` best-scoring regions of `entry` drawn on it.

    Args:
        entry: the stored regions.
        pixels: [h, w, 3] uint8 RGB of the image (or a canvas) at any scale: boxes are scaled from `entry.image_size`.
        max_boxes: regions drawn at most.
    """
    height, width = entry.image_size
    image = Image.fromarray(pixels)
    scale = np.array([image.width / width, image.height / height] * 2, dtype=np.float32)
    canvas = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    line = max(1, round(max(image.size) / 300))
    order = np.argsort(-entry.scores, kind="stable")[:max_boxes]
    for k in order:
        x1, y1, x2, y2 = (float(v) for v in entry.boxes[k] * scale)
        name = entry.label_names[k]
        colour = _colour(name)
        tag = f"{name} {entry.scores[k]:.2f}"
        if entry.attribute_names and entry.attribute_names[k]:
            tag = f"{' '.join(entry.attribute_names[k])} {tag}"
        canvas.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        left, top, right, bottom = canvas.textbbox((x1, y1), tag, font=font)
        canvas.rectangle((left, top, right, bottom), fill=colour)
        canvas.text((x1, y1), tag, fill=(0, 0, 0), font=font)
    return image


def draw_images(
    store: str | Path | Sequence[str | Path],
    image_ids: Sequence[str],
    out_dir: str | Path,
    images: str | Path | Sequence[str | Path] | None = None,
    image_root: str | Path | None = None,
    max_boxes: int = 36,
    max_side: int = 1600,
    min_side: int = 0,
) -> list[Path]:
    """Draws the regions of `image_ids` and writes one PNG per image into `out_dir`.

    Args:
        store: the region store.
        image_ids: ids to draw.
        out_dir: where the PNGs go: `<id>.png`, or for an id that is not a safe file name, the id with `/` as `__` and
            other characters as `_`, then a hash of the id (`a b` -> `a_b-<hash>.png`).
        images: the image source, as for extraction; None draws on grey canvases.
        image_root: where relative names of a json or list file live.
        max_boxes: regions drawn per image at most.
        max_side: longer side of the drawn images (larger images are downscaled).
        min_side: smaller images (or grey canvases) are enlarged to this longer side, pixels repeated, so that the
            tags stay legible on thumbnails; 0 keeps their size.

    Returns:
        The written files.

    Raises:
        KeyError: an id that is not in the store.
    """
    regions = RegionStore(store)
    paths = {item.image_id: item.path for item in list_images(images, image_root)} if images is not None else {}
    decoder = Decoder(max_side=max_side)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for image_id in image_ids:
        entry = regions[image_id]
        pixels = None
        if image_id in paths:
            try:
                pixels, full = decoder.read(paths[image_id])
                size = full or pixels.shape[:2]
                if tuple(size) != entry.image_size:
                    logger.warning("%s: stored size %s differs from the file's %s", image_id, entry.image_size, size)
            except Exception as error:  # a drawing tool goes on with a grey canvas
                logger.warning("%s: cannot read %s (%s); drawing on a grey canvas", image_id, paths[image_id], error)
        elif images is not None:
            logger.warning("%s: not among the given images; drawing on a grey canvas", image_id)
        if pixels is None:  # the boxes can still be looked at
            pixels = np.full((*entry.image_size, 3), CANVAS_GREY, dtype=np.uint8)
        factor = min_side // max(pixels.shape[:2])
        if factor > 1:  # boxes follow: draw_entry scales them from the stored size to the pixels'
            pixels = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
        target = out_dir / f"{_file_name(image_id)}.png"
        draw_entry(entry, pixels, max_boxes).save(target)
        written.append(target)
    return written


def _colour(name: str) -> tuple[int, int, int]:
    """A light colour fixed per label name, so one label looks the same on every image."""
    value = zlib.crc32(name.encode("utf-8"))
    return 100 + value % 156, 100 + (value >> 8) % 156, 100 + (value >> 16) % 156


def _file_name(image_id: str) -> str:
    """A file name for an image id, distinct for distinct ids: ids that are already safe names keep them; others are
    made safe and get a hash of the id, so that `猫` and `犬`, or `a b` and `a_b`, never write the same file."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", image_id.replace("/", "__"))
    if safe == image_id:
        return safe
    return f"{safe}-{hashlib.sha1(image_id.encode('utf-8')).hexdigest()[:10]}"
