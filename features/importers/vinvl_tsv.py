"""Import of VinVL / Oscar+ TSV dumps (Microsoft's scene_graph_benchmark extractor, and Oscar's released data).

Supported files, all keyed by the image key in the first field and read in lockstep (same rows, same order, as the
extractor writes them and as Oscar reads them by row index):
- features (`features.tsv`, `<split>.feature.tsv`): `key <TAB> {"num_boxes": K, "features": base64}` (Oscar) or
  `key <TAB> K <TAB> base64` (the extractor's `features.tsv`). The base64 holds float32 [K, 2054] (2048-d region
  features followed by the 6-d geometry `x1/W, y1/H, x2/W, y2/H, w/W, h/H`) or [K, 2048]. The store keeps the 2048
  features; it derives geometry from boxes and image size itself.
- labels (`predictions.tsv`, `<split>.label.tsv`): `key <TAB> [objects]` or `key <TAB> {"objects": [objects], ...}`,
  each object `{"rect": [x1, y1, x2, y2], "class": name, "conf": score}` with optional `"attributes": [names]` and
  `"attr_scores": [scores]`, and optionally `"feature"` (base64 float32 2048-d; used when no features file is given).
- image sizes (`<split>.hw.tsv`): `key <TAB> [{"height": H, "width": W}]` (or the bare dict).

Image size comes from the hw file, else from `image_h` / `image_w` in a label row's dict, else it is recovered from the
2054-d geometry and the label boxes when they are aligned (same count): W = box width / (w/W). Boxes come from the label
`rect`s when labels and features are aligned, else from the geometry times the image size. Labels become tags: aligned
labels by position; otherwise (Oscar's label files may hold other boxes than its feature files) each region takes the
class, score and attributes of the label box that overlaps it most, or `__no_label__` with score 0 when none overlaps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from features.importers.tsv import TsvFormatError, decode_array, iter_rows, sources_provenance
from features.importers.writing import NO_LABEL, ImportedImage

REGION_DIM = 2048
GEOMETRY_DIM = 6


class VinvlTsv:
    """A VinVL / Oscar dump: a features file, a labels file, or both, and optionally an image-size file.

    Args:
        features: the features TSV.
        labels: the labels / predictions TSV.
        hw: the image-size TSV.
        numeric_ids: store ids as the trailing integer of each key (`COCO_val2014_000000391895` -> `391895`), the
            form COCO ids take elsewhere in the project.

    Raises:
        ValueError: neither features nor labels given.
        TsvFormatError: on the first image, for rows this module does not know.
    """

    def __init__(
        self,
        features: str | Path | None = None,
        labels: str | Path | None = None,
        hw: str | Path | None = None,
        numeric_ids: bool = False,
    ) -> None:
        if features is None and labels is None:
            raise ValueError("a VinVL import needs a features TSV, a labels TSV with per-object features, or both")
        self.files = {name: Path(p) for name, p in (("features", features), ("labels", labels), ("hw", hw)) if p}
        self.numeric_ids = numeric_ids
        self.max_attributes_per_region = self._max_attributes() if "labels" in self.files else 0
        first = next(self.images(skip=()), None)
        if first is None:
            raise TsvFormatError(f"{', '.join(map(str, self.files.values()))}: no rows")
        self.feature_dim = int(first.features.shape[1])

    @property
    def main_file(self) -> Path:
        return self.files.get("features", self.files.get("labels"))  # type: ignore[return-value]

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "import:vinvl-tsv",
            "sources": sources_provenance(list(self.files.values())),
            "numeric_ids": self.numeric_ids,
        }

    def images(self, skip: Container[str]) -> Iterator[ImportedImage]:
        """The images of the dump in row order, except those whose id is in `skip`."""
        readers = {name: iter_rows(path) for name, path in self.files.items()}
        main = "features" if "features" in readers else "labels"
        for number, row in readers[main]:
            key = row[0]
            rows = {main: row}
            for name, reader in readers.items():
                if name != main:
                    rows[name] = self._aligned_row(name, reader, key, f"{self.files[main]}:{number}")
            image_id = self._image_id(key)
            if image_id not in skip:
                yield self._image(image_id, rows, f"{self.files[main]}:{number}")

    def _aligned_row(self, name: str, reader: Iterator[tuple[int, list[str]]], key: str, where: str) -> list[str]:
        found = next(reader, None)
        if found is None:
            raise TsvFormatError(
                f"{self.files[name]} ends before {where} (key {key!r}): the files must have the same rows"
            )
        number, row = found
        if row[0] != key:
            raise TsvFormatError(
                f"{self.files[name]}:{number} has key {row[0]!r} where {where} has {key!r}: the files must list the "
                "same images in the same order"
            )
        return row

    def _image_id(self, key: str) -> str:
        if not self.numeric_ids:
            return key
        match = re.search(r"(\d+)$", key)
        if match is None:
            raise TsvFormatError(f"key {key!r} does not end in digits (numeric_ids)")
        return str(int(match.group(1)))

    def _image(self, image_id: str, rows: dict[str, list[str]], where: str) -> ImportedImage:
        label_info = _json_field(rows["labels"], where) if "labels" in rows else []
        objects = label_info.get("objects", []) if isinstance(label_info, dict) else label_info
        if "features" in rows:
            features = _features_row(rows["features"], where)
        else:
            features = np.stack([decode_array(o["feature"], np.float32, (-1,), where) for o in objects]).reshape(
                len(objects), -1
            )
        geometry = None
        if features.shape[1] == REGION_DIM + GEOMETRY_DIM:
            features, geometry = features[:, :REGION_DIM], features[:, REGION_DIM:]
        aligned = len(objects) == len(features) and all("rect" in o for o in objects)
        rects = np.array([o["rect"] for o in objects], dtype=np.float32).reshape(-1, 4) if objects else None
        height, width = self._size(rows, label_info, geometry, rects if aligned else None, where)
        if aligned:
            boxes = rects
        elif geometry is not None:
            boxes = geometry[:, :4] * np.array([width, height, width, height], dtype=np.float32)
        else:
            raise TsvFormatError(
                f"{where}: no boxes for {image_id!r}: the features have no geometry and the labels are not aligned"
            )
        matched = list(range(len(objects))) if aligned else _best_overlaps(boxes, rects)
        chosen = [objects[m] if m >= 0 else None for m in matched]
        attributes = attribute_scores = None
        if self.max_attributes_per_region:
            attributes = [list(o.get("attributes", [])) if o else [] for o in chosen]
            attribute_scores = [
                list(o.get("attr_scores", [1.0] * len(names))) if o else []
                for o, names in zip(chosen, attributes, strict=True)
            ]
        return ImportedImage(
            image_id=image_id,
            image_size=(height, width),
            features=features,
            boxes=boxes.astype(np.float32),
            scores=np.array([float(o.get("conf", 1.0)) if o else 0.0 for o in chosen], np.float32),
            labels=[o["class"] if o else NO_LABEL for o in chosen],
            attributes=attributes,
            attribute_scores=attribute_scores,
        )

    def _size(
        self,
        rows: dict[str, list[str]],
        label_info: Any,
        geometry: np.ndarray | None,
        rects: np.ndarray | None,
        where: str,
    ) -> tuple[int, int]:
        """(height, width) from the hw file, the label row, or the geometry of aligned boxes."""
        if "hw" in rows:
            size = _json_field(rows["hw"], where)
            size = size[0] if isinstance(size, list) else size
            return int(size["height"]), int(size["width"])
        if isinstance(label_info, dict) and "image_h" in label_info and "image_w" in label_info:
            return int(label_info["image_h"]), int(label_info["image_w"])
        if geometry is not None and rects is not None and len(rects):
            widths, heights = geometry[:, 4], geometry[:, 5]
            usable = (widths > 0) & (heights > 0)
            if usable.any():
                width = np.median((rects[usable, 2] - rects[usable, 0]) / widths[usable])
                height = np.median((rects[usable, 3] - rects[usable, 1]) / heights[usable])
                return round(float(height)), round(float(width))
        raise TsvFormatError(
            f'{where}: image size unknown: pass the hw TSV (key, [{{"height": H, "width": W}}]), or labels aligned '
            "with 2054-d features"
        )

    def _max_attributes(self) -> int:
        """The most attributes of one object in the labels file (one pass over it, constant memory)."""
        most = 0
        for number, row in iter_rows(self.files["labels"]):
            info = _json_field(row, f"{self.files['labels']}:{number}")
            objects = info.get("objects", []) if isinstance(info, dict) else info
            most = max([most, *(len(o.get("attributes", [])) for o in objects)])
        return most


def _features_row(row: list[str], where: str) -> np.ndarray:
    """[K, D] float32 of a features row in either layout."""
    if len(row) == 3:
        count, text = int(row[1]), row[2]
    elif len(row) == 2:
        info = _json_field(row, where)
        count, text = int(info["num_boxes"]), info["features"]
    else:
        raise TsvFormatError(
            f"{where}: a features row has 2 fields (key, json) or 3 (key, num_boxes, base64), not {len(row)}"
        )
    return decode_array(text, np.float32, (count, -1), f"{where} features")


def _json_field(row: list[str], where: str) -> Any:
    if len(row) < 2:
        raise TsvFormatError(f"{where}: expected key <TAB> json")
    try:
        return json.loads(row[1])
    except json.JSONDecodeError as error:
        raise TsvFormatError(f"{where}: the second field is not JSON: {error}") from error


def _best_overlaps(boxes: np.ndarray, rects: np.ndarray | None) -> list[int]:
    """For each of [K, 4] `boxes`, the index of the label box of [L, 4] `rects` that overlaps it most (-1: none)."""
    if rects is None or not len(rects):
        return [-1] * len(boxes)
    x1 = np.maximum(boxes[:, None, 0], rects[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], rects[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], rects[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], rects[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = _area(boxes)[:, None] + _area(rects)[None, :] - inter
    iou = inter / np.maximum(union, 1e-9)
    best = iou.argmax(axis=1)
    return [int(b) if iou[k, b] > 0 else -1 for k, b in enumerate(best)]


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
