"""Which images to extract, and under which ids: an image folder, a list file, or COCO-style jsons.

Image ids:
- COCO-style json (`images[]` with `id` and `file_name`): the json's `id`, as its decimal string; files are
  `image_root / file_name` (image_root defaults to the json's folder).
- folder: every file with an image extension below it (recursively, hidden files and folders skipped), in sorted order;
  the id is the path relative to the folder without extension, `/`-separated (`val/000123.jpg` -> `val/000123`).
- list file (any other file): one image per line, `path` or `path<TAB>id`; relative paths are taken from image_root
  (default: the list file's folder); blank lines and lines starting with `#` are skipped; without an explicit id the id
  is the path as written, without its extension.

Two images with one id are refused before any work starts (`DuplicateImageIdError` names both files).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".jfif"}
)


@dataclass(frozen=True)
class ImageItem:
    """One image to extract: its store id and its file."""

    image_id: str
    path: Path


class DuplicateImageIdError(ValueError):
    """Two inputs map to the same image id."""


def list_images(source: str | Path | Sequence[str | Path], image_root: str | Path | None = None) -> list[ImageItem]:
    """The images named by `source`, in a deterministic order.

    Args:
        source: a folder, a COCO-style json, a list file, or a sequence of these (concatenated in order).
        image_root: where the relative file names of jsons and list files live (see the module docstring).

    Raises:
        FileNotFoundError: a source does not exist.
        ValueError: a json without `images[]`, or an image entry without `id` / `file_name`.
        DuplicateImageIdError: two images share an id (within or across sources).
    """
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    if not sources:
        raise ValueError("no input given: pass an image folder, a list file or a COCO-style json")
    items: list[ImageItem] = []
    for one in sources:
        path = Path(one)
        if path.is_dir():
            items += _from_folder(path)
        elif not path.exists():
            raise FileNotFoundError(f"input {path} does not exist")
        elif path.suffix.lower() == ".json":
            items += _from_coco_json(path, Path(image_root) if image_root else path.parent)
        else:
            items += _from_list_file(path, Path(image_root) if image_root else path.parent)
    _refuse_duplicates(items)
    return items


def _from_folder(root: Path) -> list[ImageItem]:
    found = []
    for directory, folders, files in os.walk(root):
        folders[:] = [f for f in folders if not f.startswith(".")]
        for name in files:
            path = Path(directory) / name
            if not name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS:
                found.append(path)
    return [ImageItem(_id_from_relative(path.relative_to(root).as_posix()), path) for path in sorted(found)]


def _from_coco_json(path: Path, image_root: Path) -> list[ImageItem]:
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: not a COCO-style json (no `images` list)")
    items = []
    for position, image in enumerate(data["images"]):
        if "id" not in image or "file_name" not in image:
            raise ValueError(f"{path}: images[{position}] lacks `id` or `file_name`")
        items.append(ImageItem(str(image["id"]), image_root / image["file_name"]))
    return items


def _from_list_file(path: Path, image_root: Path) -> list[ImageItem]:
    items = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, explicit_id = line.partition("\t")
            name = name.strip()
            image_id = explicit_id.strip() or _id_from_relative(name)
            items.append(ImageItem(image_id, image_root / name))
    return items


def _id_from_relative(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(""))


def _refuse_duplicates(items: list[ImageItem]) -> None:
    first: dict[str, Path] = {}
    clashes = []
    for item in items:
        if item.image_id in first:
            clashes.append(f"{item.image_id!r} ({first[item.image_id]} and {item.path})")
        else:
            first[item.image_id] = item.path
    if clashes:
        shown = "; ".join(clashes[:5]) + (f"; and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise DuplicateImageIdError(f"{len(clashes)} duplicate image id(s): {shown}")
