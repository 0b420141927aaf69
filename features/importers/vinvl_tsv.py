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
            wheres = {main: f"{self.files[main]}:{number}"}
            for name, reader in readers.items():
                if name != main:
                    other, rows[name] = self._aligned_row(name, reader, key, wheres[main])
                    wheres[name] = f"{self.files[name]}:{other}"
            image_id = self._image_id(key)
            if image_id not in skip:
                yield self._image(image_id, rows, wheres)

    def _aligned_row(
        self, name: str, reader: Iterator[tuple[int, list[str]]], key: str, where: str
    ) -> tuple[int, list[str]]:
        """(line number, fields) of the next row of file `name`, which must have the main file's `key`."""
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
        return number, row

    def _image_id(self, key: str) -> str:
        if not self.numeric_ids:
            return key
        match = re.search(r"(\d+)$", key)
        if match is None:
            raise TsvFormatError(f"key {key!r} does not end in digits (numeric_ids)")
        return str(int(match.group(1)))

    def _image(self, image_id: str, rows: dict[str, list[str]], wheres: dict[str, str]) -> ImportedImage:
        """One image from its rows of each file (`wheres`: each row's `file:line`, for messages)."""
        where = wheres["features" if "features" in rows else "labels"]
        label_info, objects = _label_row(rows["labels"], wheres["labels"]) if "labels" in rows else ([], [])
        if "features" in rows:
            features = _features_row(rows["features"], where)
        else:
            for index, entry in enumerate(objects):
                if not isinstance(entry.get("feature"), str):
                    raise TsvFormatError(f"{where}: object {index}: no base64 'feature' (and no features file given)")
            features = np.stack(
                [decode_array(o["feature"], np.float32, (-1,), f"{where} object {i}") for i, o in enumerate(objects)]
            ).reshape(len(objects), -1)
        geometry = None
        if features.shape[1] == REGION_DIM + GEOMETRY_DIM:
            features, geometry = features[:, :REGION_DIM], features[:, REGION_DIM:]
        aligned = len(objects) == len(features) and all("rect" in o for o in objects)
        rects = np.array([o["rect"] for o in objects], dtype=np.float32).reshape(-1, 4) if objects else None
        height, width = self._size(rows, label_info, geometry, rects if aligned else None, wheres)
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
        wheres: dict[str, str],
    ) -> tuple[int, int]:
        """(height, width) from the hw file, the label row, or the geometry of aligned boxes."""
        if "hw" in rows:
            size = _json_field(rows["hw"], wheres["hw"])
            size = size[0] if isinstance(size, list) and size else size
            if not isinstance(size, dict):
                raise TsvFormatError(
                    f'{wheres["hw"]}: the size field must be {{"height": H, "width": W}} or a list of it'
                )
            return _integer(size, "height", wheres["hw"]), _integer(size, "width", wheres["hw"])
        if isinstance(label_info, dict) and "image_h" in label_info and "image_w" in label_info:
            return _integer(label_info, "image_h", wheres["labels"]), _integer(label_info, "image_w", wheres["labels"])
        where = next(iter(wheres.values()))
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
            _, objects = _label_row(row, f"{self.files['labels']}:{number}")
            most = max([most, *(len(o.get("attributes", [])) for o in objects)])
        return most


def _features_row(row: list[str], where: str) -> np.ndarray:
    """[K, D] float32 of a features row in either layout."""
    if len(row) == 3:
        if not row[1].strip().isdigit():
            raise TsvFormatError(f"{where}: field 2 (num_boxes) must be a whole number, got {row[1]!r}")
        count, text = int(row[1]), row[2]
    elif len(row) == 2:
        info = _json_field(row, where)
        if not isinstance(info, dict) or not isinstance(info.get("features"), str):
            raise TsvFormatError(f'{where}: the features field must be {{"num_boxes": K, "features": base64}}')
        count, text = _integer(info, "num_boxes", where), info["features"]
    else:
        raise TsvFormatError(
            f"{where}: a features row has 2 fields (key, json) or 3 (key, num_boxes, base64), not {len(row)}"
        )
    return decode_array(text, np.float32, (count, -1), f"{where} features")


def _integer(values: dict[str, Any], key: str, where: str) -> int:
    """`values[key]`, which must be a whole number (JSON may give 3, 3.0 or "3"; only the first two are taken).

    Raises:
        TsvFormatError: naming the row and the key.
    """
    if key not in values:
        raise TsvFormatError(f"{where}: missing key {key!r}")
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise TsvFormatError(f"{where}: {key!r} must be a whole number, got {value!r}")
    return int(value)


def _label_row(row: list[str], where: str) -> tuple[Any, list[dict[str, Any]]]:
    """(the parsed JSON, its objects) of a labels row, every object checked field by field.

    Raises:
        TsvFormatError: naming the row, the object and the field that is missing or of the wrong type.
    """
    info = _json_field(row, where)
    objects = info.get("objects", []) if isinstance(info, dict) else info
    if not isinstance(objects, list):
        raise TsvFormatError(
            f"{where}: the labels field must be a list of objects or a dict with an 'objects' list, not "
            f"{type(objects).__name__}"
        )
    for index, entry in enumerate(objects):
        _check_object(entry, f"{where}: object {index}")
    return info, objects


def _check_object(entry: Any, where: str) -> None:
    """Checks one label object: `class` a string, `rect` four numbers, `conf` a number, `attributes` strings and
    `attr_scores` numbers, one per attribute."""
    if not isinstance(entry, dict):
        raise TsvFormatError(f"{where}: must be a JSON object, not {type(entry).__name__}")
    if not isinstance(entry.get("class"), str):
        problem = "missing key 'class'" if "class" not in entry else f"'class' must be a string, got {entry['class']!r}"
        raise TsvFormatError(f"{where}: {problem}")
    if "rect" in entry and not _numbers(entry["rect"], 4):
        raise TsvFormatError(f"{where}: 'rect' must be 4 numbers [x1, y1, x2, y2], got {entry['rect']!r}")
    if "conf" in entry and not _numbers([entry["conf"]], 1):
        raise TsvFormatError(f"{where}: 'conf' must be a number, got {entry['conf']!r}")
    names = entry.get("attributes", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TsvFormatError(f"{where}: 'attributes' must be a list of strings, got {names!r}")
    if "attr_scores" in entry and not _numbers(entry["attr_scores"], len(names)):
        raise TsvFormatError(f"{where}: 'attr_scores' must be {len(names)} numbers, got {entry['attr_scores']!r}")


def _numbers(values: Any, count: int) -> bool:
    """Whether `values` is a list of `count` numbers."""
    return (
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    )


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
