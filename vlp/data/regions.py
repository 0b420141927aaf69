"""Region reading for any dataset: the stores of its sources opened once and checked, and each image's first regions
with their geometry, tags and attributes, as pretraining, VQA, captioning and retrieval all read them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vlp.data.tags import tag_words
from vlp.store import RegionStore
from vlp.store.geometry import GeometryStyle


def image_permutation(image_ids: Sequence[int | str], seed: int) -> dict:
    """Maps every image to another one, by one cycle through all of them in a seeded random order.

    A single cycle leaves no image in place (for two images or more), so no question sees its own image, and every
    image's regions are still shown exactly once: the control keeps the distribution of regions and tags, and loses
    only their link to the question. The result depends on the set of ids and the seed, not on their order.

    Args:
        image_ids: the images (repeats allowed).
        seed: the permutation's seed.

    Raises:
        ValueError: for fewer than two distinct images.
    """
    unique = sorted(set(image_ids))
    if len(unique) < 2:
        raise ValueError(f"shuffling regions across images needs at least two images, got {len(unique)}")
    order = torch.randperm(len(unique), generator=torch.Generator().manual_seed(seed)).tolist()
    cycle = [unique[i] for i in order]
    return {image: cycle[(k + 1) % len(cycle)] for k, image in enumerate(cycle)}


@dataclass
class ImageRegions:
    """An image's first regions as a dataset hands them to its collate (the fields `pad_regions` reads).

    Attributes:
        features: [K, D] float32 region features, K <= the region budget.
        geometry: [K, G] float32 box geometry (6-d oscar, 7-d uniter).
        boxes: [K, 4] float32 pixel boxes x1, y1, x2, y2.
        labels: [K] int64 region labels in the reader's `region_label_names`.
        tags: [K] the detector label of each region (may be several words, e.g. "stop sign").
        tag_words: the tags as one word sequence, Oscar's text b (led by each region's attribute names when the
            reader's `tag_attributes` is set).
        attributes: [K] lists of attribute names per region, or None when the store has none.
    """

    features: np.ndarray
    geometry: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    tags: list[str]
    tag_words: list[str]
    attributes: list[list[str]] | None


class RegionReader:
    """The region stores of a dataset's sources, each opened once, and the regions of their images.

    Region labels of all stores are mapped into one vocabulary, `region_label_names`, in order of first appearance, so
    that a region classifier has one output per name.

    Args:
        max_regions: the region budget per image (Oscar: 50), the first regions in the store's order.
        geometry: the box geometry style the model expects.
        tag_attributes: lead each region's tag with its attribute names ("green small star"); every store must hold
            attributes.
    """

    def __init__(self, max_regions: int = 50, geometry: GeometryStyle = "oscar", tag_attributes: bool = False) -> None:
        if max_regions < 1:
            raise ValueError(f"max_regions must be positive, got {max_regions}")
        self.max_regions, self.geometry, self.tag_attributes = max_regions, geometry, tag_attributes
        self._stores: dict[str, RegionStore] = {}
        self._label_maps: dict[str, np.ndarray] = {}
        self._label_index: dict[str, int] = {}

    @property
    def region_label_names(self) -> list[str]:
        """The region label vocabulary of every store added so far."""
        return list(self._label_index)

    @property
    def first_store(self) -> str:
        """The path of the first store added (the one messages about the whole reader name)."""
        if not self._stores:
            raise ValueError("no region store added yet")
        return next(iter(self._stores))

    @property
    def feature_dim(self) -> int:
        """D, the feature width that every store holds."""
        return self.store(self.first_store).feature_dim

    def store(self, path: str) -> RegionStore:
        """The store at `path`, opened and checked on first use.

        Raises:
            RegionStoreError: the store cannot be opened, naming the file.
            ValueError: `tag_attributes` is set and the store holds no attributes, or its feature width differs from
                the stores added before, naming both.
        """
        if path in self._stores:
            return self._stores[path]
        store = RegionStore(path)
        if self.tag_attributes and not store.has_attributes:
            raise ValueError(f"tag_attributes is set but {path} holds no region attributes")
        if self._stores and store.feature_dim != self.feature_dim:
            first = next(iter(self._stores))
            raise ValueError(f"{path} holds {store.feature_dim}-d features but {first} holds {self.feature_dim}-d")
        for name in store.label_names:
            self._label_index.setdefault(name, len(self._label_index))
        self._label_maps[path] = np.array([self._label_index[name] for name in store.label_names], dtype=np.int64)
        self._stores[path] = store
        return store

    def require(self, path: str, image_ids: Iterable[str | int], source: str) -> None:
        """Checks that the store at `path` holds every image of `source` (a file or corpus, for the message).

        Raises:
            KeyError: naming the source, the store and up to five missing image ids.
        """
        store = self.store(path)
        absent = sorted({str(image_id) for image_id in image_ids if image_id not in store})
        if absent:
            raise KeyError(f"{source}: {len(absent)} image ids are not in {path}: {absent[:5]}")

    def attribute_names(self) -> Iterator[str]:
        """Every store's attribute names (empty unless `tag_attributes`), to learn a vocabulary from."""
        if self.tag_attributes:
            for store in self._stores.values():
                yield from store.attribute_names

    def num_regions(self, path: str, image_id: str | int) -> int:
        """How many regions of an image the reader hands out, from the store's in-memory index."""
        return min(self.store(path).num_regions(image_id), self.max_regions)

    def tag_words(self, path: str, image_id: str | int) -> list[str]:
        """An image's tag words, read without its features when attributes are not wanted."""
        store = self.store(path)
        if not self.tag_attributes:
            return tag_words(store.label_names_of(image_id)[: self.max_regions])
        return self.read(path, image_id).tag_words

    def read(self, path: str, image_id: str | int) -> ImageRegions:
        """The first `max_regions` regions of an image of the store at `path`."""
        store = self.store(path)
        entry = store[image_id]
        keep = slice(0, self.max_regions)
        labels, attributes = entry.label_names[keep], entry.attribute_names
        attributes = None if attributes is None else attributes[keep]
        return ImageRegions(
            features=np.asarray(entry.features[keep], dtype=np.float32),
            geometry=store.geometry(entry, self.geometry)[keep],
            boxes=np.asarray(entry.boxes[keep], dtype=np.float32),
            labels=self._label_maps[path][entry.labels[keep]],
            tags=list(labels),
            tag_words=tag_words(labels, attributes if self.tag_attributes else None),
            attributes=attributes,
        )
