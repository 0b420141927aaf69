"""The HDF5 region store: flat ragged arrays of region features, boxes, scores, tags and attributes per image."""

from vlp.store.entry import RegionEntry
from vlp.store.geometry import GEOMETRY_DIMS, box_geometry
from vlp.store.reader import RegionStore, resolve_store_paths, shard_path
from vlp.store.schema import SCHEMA_NAME, SCHEMA_VERSION, RegionStoreError
from vlp.store.writer import RegionStoreWriter

__all__ = [
    "GEOMETRY_DIMS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "RegionEntry",
    "RegionStore",
    "RegionStoreError",
    "RegionStoreWriter",
    "box_geometry",
    "resolve_store_paths",
    "shard_path",
]
