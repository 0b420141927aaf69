"""Boxes, labels and attributes per image from COCO-style instances jsons (the given-boxes backend's input).

Standard COCO `instances_<split>.json` (`images`, `annotations` with `bbox` = x, y, w, h in pixels and `category_id`,
`categories`). Extra fields read when present: per-annotation `attributes`, a list of names or of indices into a
top-level `attribute_names` list, as the demo world writes them. Labels are category names, so several jsons (one per
split) merge into one vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np


@dataclass(frozen=True)
class ImageBoxes:
    """The annotated regions of one image.

    Attributes:
        boxes: [K, 4] float32 pixel boxes x1, y1, x2, y2.
        labels: [K] category names.
        attributes: [K] lists of attribute names (empty lists when the json has none).
    """

    boxes: np.ndarray
    labels: list[str]
    attributes: list[list[str]]


class InstanceIndex:
    """Annotations of every image, looked up by image id or, failing that, by file name.

    Args:
        paths: COCO-style instances jsons.
        include_crowd: keep `iscrowd=1` annotations (crowd boxes cover groups of objects; off by default).

    Raises:
        ValueError: a json without `images`, `annotations` or `categories`, an unknown `category_id`, or an attribute
            index outside `attribute_names`.
    """

    def __init__(self, paths: Sequence[str | Path], include_crowd: bool = False) -> None:
        self.paths = [Path(p) for p in paths]
        self.label_names: list[str] = []
        self.attribute_names: list[str] = []
        self._by_id: dict[str, ImageBoxes] = {}
        self._id_by_file: dict[str, str] = {}
        for path in self.paths:
            self._add_file(path, include_crowd)
        self.max_attributes = max((len(a) for boxes in self._by_id.values() for a in boxes.attributes), default=0)

    def _add_file(self, path: Path, include_crowd: bool) -> None:
        with open(path) as f:
            data = json.load(f)
        missing = [key for key in ("images", "annotations", "categories") if key not in data]
        if missing:
            raise ValueError(f"{path}: not a COCO instances json (no {', '.join(missing)})")
        categories = {c["id"]: c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])}
        for name in categories.values():
            if name not in self.label_names:
                self.label_names.append(name)
        attribute_vocabulary = list(data.get("attribute_names", []))
        for name in attribute_vocabulary:
            if name not in self.attribute_names:
                self.attribute_names.append(name)
        rows: dict[str, list[tuple[list[float], str, list[str]]]] = {}
        for image in data["images"]:
            image_id = str(image["id"])
            rows.setdefault(image_id, [])
            self._id_by_file[PurePath(image["file_name"]).name] = image_id
        for annotation in data["annotations"]:
            if annotation.get("iscrowd", 0) and not include_crowd:
                continue
            where = f"{path}: annotation {annotation.get('id')}"
            if annotation["category_id"] not in categories:
                raise ValueError(f"{where}: unknown category_id {annotation['category_id']}")
            x, y, w, h = (float(v) for v in annotation["bbox"])
            names = [self._attribute_name(a, attribute_vocabulary, where) for a in annotation.get("attributes", [])]
            for name in names:
                if name not in self.attribute_names:
                    self.attribute_names.append(name)
            label = categories[annotation["category_id"]]
            rows.setdefault(str(annotation["image_id"]), []).append(([x, y, x + w, y + h], label, names))
        for image_id, regions in rows.items():
            boxes = np.array([r[0] for r in regions], dtype=np.float32).reshape(-1, 4)
            self._by_id[image_id] = ImageBoxes(boxes, [r[1] for r in regions], [r[2] for r in regions])

    @staticmethod
    def _attribute_name(value: str | int, vocabulary: list[str], where: str) -> str:
        if isinstance(value, str):
            return value
        if not 0 <= int(value) < len(vocabulary):
            raise ValueError(f"{where}: attribute index {value} outside attribute_names ({len(vocabulary)} names)")
        return vocabulary[int(value)]

    def lookup(self, image_id: str, path: str | Path) -> ImageBoxes | None:
        """The regions of an image by its id, else by its file name; None when no json knows the image."""
        if image_id in self._by_id:
            return self._by_id[image_id]
        other = self._id_by_file.get(PurePath(path).name)
        return self._by_id.get(other) if other is not None else None
