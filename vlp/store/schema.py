"""Names and constants of the HDF5 region-store schema (docs/store.md), shared by the writer and the reader.

One file holds flat ragged arrays: per-image rows (`image_ids`, `image_size`, `offsets`) and per-region rows
(`features`, `boxes`, `scores`, `labels`, optional `attributes` and `attribute_scores`). Image i owns the regions
`offsets[i]:offsets[i+1]`. Vocabularies (`label_names`, `attribute_names`) grow as writers meet new names. Everything
past the committed counters in the file attributes is ignored by readers and truncated away by a resumed writer.
"""

from __future__ import annotations

SCHEMA_NAME = "vlp-region-store"
SCHEMA_VERSION = 1

# File attributes.
ATTR_SCHEMA = "schema"
ATTR_VERSION = "schema_version"
ATTR_FEATURE_DIM = "feature_dim"
ATTR_MAX_ATTRIBUTES = "max_attributes_per_region"
ATTR_PROVENANCE = "provenance"  # JSON text: backend, config, weights hash, thresholds, box limits, code version
ATTR_CREATED_BY = "created_by"  # vlp version that created the file
# Committed counters: the only truth about what a file holds.
ATTR_COMMITTED_IMAGES = "committed_images"
ATTR_COMMITTED_REGIONS = "committed_regions"
ATTR_COMMITTED_LABELS = "committed_label_names"
ATTR_COMMITTED_ATTRIBUTES = "committed_attribute_names"

# Per-image data. String columns are groups, see `vlp.store.strings`.
IMAGE_IDS = "image_ids"  # string column
IMAGE_SIZE = "image_size"  # [N, 2] int32 (height, width)
OFFSETS = "offsets"  # [N + 1] int64
# Per-region datasets.
FEATURES = "features"  # [R, D] float16
BOXES = "boxes"  # [R, 4] float32, pixel x1, y1, x2, y2
SCORES = "scores"  # [R] float32
LABELS = "labels"  # [R] int32 into label_names
ATTRIBUTES = "attributes"  # [R, A] int32 into attribute_names, -1 pads
ATTRIBUTE_SCORES = "attribute_scores"  # [R, A] float32, 0 pads
# Vocabularies (string columns).
LABEL_NAMES = "label_names"
ATTRIBUTE_NAMES = "attribute_names"

PER_IMAGE = (IMAGE_IDS, IMAGE_SIZE)
PER_REGION_REQUIRED = (FEATURES, BOXES, SCORES, LABELS)
PER_REGION_ATTRIBUTES = (ATTRIBUTES, ATTRIBUTE_SCORES)

# Region rows per HDF5 chunk. HDF5 reads and checksums (Fletcher32) whole chunks, so an image's read costs the chunks
# it touches: at 2048-d float16 features (4 KiB a row) and 10-100 regions an image, 32 rows (128 KiB) read an image
# 1.6x faster than 128 rows and write as fast; 8 or 16 rows read no faster (docs/performance.md).
CHUNK_REGIONS = 32
CHUNK_IMAGES = 1024


class RegionStoreError(Exception):
    """Any problem with a region store file: the message names the file and, where one is involved, the image id."""
