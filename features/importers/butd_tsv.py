"""Import of bottom-up-attention TSV dumps (Anderson et al.), plain and in LXMERT's variant.

Rows are tab-separated, without a header (a header row is skipped if present):
- BUTD, 6 fields: `image_id, image_w, image_h, num_boxes, boxes, features`;
- LXMERT, 10 fields: `img_id, img_h, img_w, objects_id, objects_conf, attrs_id, attrs_conf, num_boxes, boxes,
  features` (note height before width).
`boxes` is base64 float32 [K, 4] (pixel x1, y1, x2, y2), `features` base64 float32 [K, D] (D = 2048), `objects_id` and
`attrs_id` base64 int64 [K] indices into the Visual Genome vocabularies (1600 objects, 400 attributes, background
excluded), `objects_conf` and `attrs_conf` base64 float32 [K].

Labels become tags: object indices are named by `objects_vocab.txt` / `attributes_vocab.txt` (one class a line; where a
line lists synonyms separated by commas the first is taken). Without the vocabulary files the names are `object_<i>` and
`attribute_<i>`. Plain BUTD rows carry no class: their regions get the label `__no_label__` and score 0. Several files
(the dumps come split in parts) are read in order as one dump.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from features.backends.common import file_fingerprint
from features.importers.tsv import TsvFormatError, decode_array, iter_rows, sources_provenance
from features.importers.writing import NO_LABEL, ImportedImage

logger = logging.getLogger(__name__)

BUTD_FIELDS = ("image_id", "image_w", "image_h", "num_boxes", "boxes", "features")
LXMERT_FIELDS = (
    "img_id",
    "img_h",
    "img_w",
    "objects_id",
    "objects_conf",
    "attrs_id",
    "attrs_conf",
    "num_boxes",
    "boxes",
    "features",
)
VARIANTS = {len(BUTD_FIELDS): ("butd", BUTD_FIELDS), len(LXMERT_FIELDS): ("lxmert", LXMERT_FIELDS)}


def read_vocabulary(path: str | Path) -> list[str]:
    """Class names by index from a BUTD vocabulary file (first of the comma-separated synonyms of each line)."""
    with open(path) as f:
        return [line.strip().split(",")[0] for line in f if line.strip()]


class ButdTsv:
    """A BUTD or LXMERT TSV dump, one or several files.

    Args:
        paths: the TSV files, read in order.
        objects_vocab: the object vocabulary file (LXMERT variant).
        attributes_vocab: the attribute vocabulary file (LXMERT variant).

    Raises:
        TsvFormatError: on the first row, if it has neither 6 nor 10 fields.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        objects_vocab: str | Path | None = None,
        attributes_vocab: str | Path | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.vocab_files = {"objects_vocab": objects_vocab, "attributes_vocab": attributes_vocab}
        self.objects = read_vocabulary(objects_vocab) if objects_vocab else None
        self.attributes = read_vocabulary(attributes_vocab) if attributes_vocab else None
        first = self._first_row()
        self.variant, self.fields = VARIANTS[len(first)]
        if self.variant == "lxmert" and (self.objects is None or self.attributes is None):
            logger.warning("LXMERT TSV without vocabulary files: labels are stored as object_<i> / attribute_<i>")
        self.feature_dim = 0  # unknown until a row with boxes tells it
        self.feature_dim = self._feature_dim()
        self.max_attributes_per_region = 1 if self.variant == "lxmert" else 0

    def provenance(self) -> dict[str, Any]:
        vocabularies = {k: file_fingerprint(v) if v else None for k, v in self.vocab_files.items()}
        return {"backend": f"import:{self.variant}-tsv", "sources": sources_provenance(self.paths), **vocabularies}

    def images(self, skip: Container[str]) -> Iterator[ImportedImage]:
        """The images of the dump in file order, except those whose id is in `skip` (not even decoded)."""
        for path in self.paths:
            for number, row in iter_rows(path):
                where = f"{path}:{number}"
                if len(row) != len(self.fields):
                    raise TsvFormatError(f"{where}: {len(row)} fields, the dump's rows have {len(self.fields)}")
                if row[0] in (BUTD_FIELDS[0], LXMERT_FIELDS[0]) or row[0] in skip:
                    continue
                yield self._parse(row, where)

    def _feature_dim(self) -> int:
        """D, from the first row with boxes (a row without boxes has no features to tell it)."""
        for image in self.images(skip=()):
            if image.features.shape[0]:
                return int(image.features.shape[1])
        raise TsvFormatError(f"{', '.join(map(str, self.paths))}: no row has any box, so no feature width")

    def _first_row(self) -> list[str]:
        for path in self.paths:
            for number, row in iter_rows(path):
                if row[0] in (BUTD_FIELDS[0], LXMERT_FIELDS[0]):
                    continue
                if len(row) not in VARIANTS:
                    raise TsvFormatError(
                        f"{path}:{number}: {len(row)} fields; BUTD rows have {len(BUTD_FIELDS)} "
                        f"({', '.join(BUTD_FIELDS)}), LXMERT rows {len(LXMERT_FIELDS)} ({', '.join(LXMERT_FIELDS)})"
                    )
                return row
        raise TsvFormatError(f"{', '.join(map(str, self.paths))}: no rows")

    def _parse(self, row: list[str], where: str) -> ImportedImage:
        value = dict(zip(self.fields, row, strict=True))
        try:
            count = int(value["num_boxes"])
            height = int(value["image_h" if self.variant == "butd" else "img_h"])
            width = int(value["image_w" if self.variant == "butd" else "img_w"])
        except ValueError as error:
            raise TsvFormatError(f"{where}: num_boxes, height and width must be integers: {error}") from error
        if count < 0:
            raise TsvFormatError(f"{where}: num_boxes must not be negative, got {count}")
        boxes = decode_array(value["boxes"], np.float32, (count, 4), f"{where} boxes")
        # An image without boxes has empty features whose width only the other rows tell.
        shape = (count, -1) if count else (0, self.feature_dim)
        features = decode_array(value["features"], np.float32, shape, f"{where} features")
        image_id = value[self.fields[0]]
        if self.variant == "butd":
            return ImportedImage(
                image_id, (height, width), features, boxes, np.zeros(count, np.float32), [NO_LABEL] * count
            )
        objects = decode_array(value["objects_id"], np.int64, (count,), f"{where} objects_id")
        scores = decode_array(value["objects_conf"], np.float32, (count,), f"{where} objects_conf")
        attributes = decode_array(value["attrs_id"], np.int64, (count,), f"{where} attrs_id")
        attribute_scores = decode_array(value["attrs_conf"], np.float32, (count,), f"{where} attrs_conf")
        return ImportedImage(
            image_id,
            (height, width),
            features,
            boxes,
            scores,
            [_name(self.objects, "object", i, where) for i in objects],
            [[_name(self.attributes, "attribute", i, where)] for i in attributes],
            [[float(s)] for s in attribute_scores],
        )


def _name(vocabulary: list[str] | None, kind: str, index: int, where: str) -> str:
    if vocabulary is None:
        return f"{kind}_{index}"
    if not 0 <= index < len(vocabulary):
        raise TsvFormatError(f"{where}: {kind} index {index} outside the vocabulary ({len(vocabulary)} names)")
    return vocabulary[index]
