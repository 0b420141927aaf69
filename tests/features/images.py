"""Test images written in every mode extract-features must read, and the bad files it must survive."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image


def pattern(height: int, width: int, seed: int = 0) -> np.ndarray:
    """[H, W, 3] uint8 with smooth structure (a detector or backbone sees something) and a per-seed tint."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    base = np.stack([(x * 3 + seed * 40) % 256, (y * 5) % 256, ((x + y) * 2) % 256], axis=-1)
    return np.clip(base + rng.integers(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)


def write_modes(folder: Path) -> dict[str, Path]:
    """One small image per mode: rgb, gray, bilevel, palette, palette with transparency, rgba, la, cmyk, 16-bit."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(pattern(40, 56))
    gray16 = (np.arange(40 * 56).reshape(40, 56) * 29).astype(np.uint16)
    palette_alpha = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette_alpha.info["transparency"] = 0
    images = {
        "rgb.png": rgb,
        "gray.png": rgb.convert("L"),
        "bilevel.png": rgb.convert("1"),
        "palette.gif": rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
        "palette_alpha.png": palette_alpha,
        "rgba.png": rgb.convert("RGBA"),
        "la.png": rgb.convert("LA"),
        "cmyk.jpg": rgb.convert("CMYK"),
        "gray16.png": Image.fromarray(gray16),
    }
    paths = {}
    for name, image in images.items():
        paths[name] = folder / name
        if name == "palette_alpha.png":
            image.save(paths[name], transparency=0)
        else:
            image.save(paths[name])
    return paths


def write_bad_files(folder: Path) -> dict[str, Path]:
    """Files that cannot be decoded, by the reason extract-features should give."""
    folder.mkdir(parents=True, exist_ok=True)
    encoded = io.BytesIO()
    Image.fromarray(pattern(64, 64)).save(encoded, format="JPEG")
    png = io.BytesIO()
    Image.fromarray(pattern(64, 64)).save(png, format="PNG")
    paths = {
        "empty": folder / "empty.jpg",
        "truncated_jpeg": folder / "truncated.jpg",
        "truncated_png": folder / "truncated.png",
        "not_an_image": folder / "notes.png",
        "missing": folder / "dangling.jpg",
        "folder": folder / "a_folder.jpg",
    }
    paths["empty"].write_bytes(b"")
    paths["truncated_jpeg"].write_bytes(encoded.getvalue()[: len(encoded.getvalue()) // 2])
    paths["truncated_png"].write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    paths["not_an_image"].write_text("this is a text file with an image's name\n")
    paths["missing"].symlink_to(folder / "nowhere.jpg")
    paths["folder"].mkdir()
    return paths


def write_coco(path: Path, images: list[tuple[int, str, int, int]], boxes: dict[int, list[tuple]]) -> Path:
    """A COCO instances json.

    Args:
        path: the file to write.
        images: (id, file_name, height, width).
        boxes: image id -> (x, y, w, h, category name, [attribute names]).
    """
    names = sorted({b[4] for regions in boxes.values() for b in regions})
    categories = [{"id": i + 1, "name": n, "supercategory": "thing"} for i, n in enumerate(names)]
    annotations = []
    for image_id, regions in boxes.items():
        for x, y, w, h, name, attributes in regions:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "bbox": [x, y, w, h],
                    "category_id": names.index(name) + 1,
                    "area": w * h,
                    "iscrowd": 0,
                    "attributes": attributes,
                }
            )
    data = {
        "images": [{"id": i, "file_name": f, "height": h, "width": w} for i, f, h, w in images],
        "annotations": annotations,
        "categories": categories,
    }
    path.write_text(json.dumps(data))
    return path
