"""`PretrainDataset`: the examples of several corpora with their regions, read lazily from each corpus's store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from vlp.data.corpora import Corpus, TextExample
from vlp.data.tags import entry_tag_words, require_attributes, tag_words
from vlp.store import RegionStore
from vlp.store.geometry import GeometryStyle
from vlp.world import tokenize_caption


@dataclass
class PretrainItem:
    """One example as the dataset reads it, before tokenisation and corruption (see `PretrainCollate`).

    Attributes:
        index: position in the dataset.
        image_id: the image's id in its store.
        words: the text's words (the gold graph's tokens when it has one, so that its spans index into them).
        words_b: the words of the corpus's second text (an answer), or None when the tags take its place.
        tags: [K] the detector label of each kept region (may be several words, e.g. "stop sign").
        tag_words: the tags as one word sequence, the text that Oscar puts after the caption (led by each region's
            attributes when the dataset's `tag_attributes` is set).
        features: [K, D] float32 region features, K <= the region budget.
        geometry: [K, G] float32 box geometry (6-d oscar, 7-d uniter).
        boxes: [K, 4] float32 pixel boxes x1, y1, x2, y2.
        labels: [K] int64 region labels in the dataset's `region_label_names`.
        attributes: [K] lists of attribute names per region, or None when the store has none.
        graph: the gold scene graph of the text, or None.
    """

    index: int
    image_id: str
    words: list[str]
    words_b: list[str] | None
    tags: list[str]
    tag_words: list[str]
    features: np.ndarray
    geometry: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    attributes: list[list[str]] | None
    graph: dict[str, Any] | None


def example_words(example: TextExample) -> list[str]:
    """The words of an example's text, in the tokenisation its gold scene graph's spans index into."""
    return list(example.graph["tokens"]) if example.graph is not None else tokenize_caption(example.text)


class PretrainDataset(Dataset[PretrainItem]):
    """The examples of several corpora as one map-style dataset; each example's regions come from its corpus's store.

    Corpora that share a store path share one reader. Region labels of all stores are mapped into one vocabulary,
    `region_label_names`, in order of first appearance, so that a region classifier has one output per name.

    Args:
        corpora: the sources, read once here.
        max_regions: the region budget per image (Oscar: 50), the first regions of the store's order.
        geometry: the box geometry style the model expects.
        tag_attributes: lead each region's tag with its attribute names ("green small star"); every store must hold
            attributes.

    Raises:
        KeyError: naming up to five image ids of a corpus that its store lacks.
        ValueError: `tag_attributes` is set and a store holds no attributes.
    """

    def __init__(
        self,
        corpora: Sequence[Corpus],
        max_regions: int = 50,
        geometry: GeometryStyle = "oscar",
        tag_attributes: bool = False,
    ) -> None:
        if not corpora:
            raise ValueError("give at least one corpus")
        self.max_regions, self.geometry, self.tag_attributes = max_regions, geometry, tag_attributes
        store_index: dict[str, int] = {}
        label_index: dict[str, int] = {}
        self._examples: list[TextExample] = []
        self._store_of_example: list[int] = []
        self._stores: list[RegionStore] = []
        self._label_maps: list[np.ndarray] = []
        for corpus in corpora:
            if corpus.store not in store_index:
                store_index[corpus.store] = len(self._stores)
                self._stores.append(RegionStore(corpus.store))
                if tag_attributes:
                    require_attributes(self._stores[-1], corpus.store)
                names = self._stores[-1].label_names
                for name in names:
                    label_index.setdefault(name, len(label_index))
                self._label_maps.append(np.array([label_index[name] for name in names], dtype=np.int64))
            store = self._stores[store_index[corpus.store]]
            examples = corpus.read()
            absent = [example.image_id for example in examples if example.image_id not in store]
            if absent:
                raise KeyError(f"{corpus!r}: {len(absent)} image ids are not in its store, e.g. {absent[:5]}")
            self._examples += examples
            self._store_of_example += [store_index[corpus.store]] * len(examples)
        self.region_label_names: list[str] = list(label_index)

    def __len__(self) -> int:
        return len(self._examples)

    def example(self, index: int) -> TextExample:
        """The text side of example `index`, without reading its regions."""
        return self._examples[index]

    def image_id(self, index: int) -> str:
        return self._examples[index].image_id

    def texts(self) -> Iterator[str]:
        """Every text, second text and region label name (and attribute name with `tag_attributes`), to learn a
        vocabulary from."""
        for example in self._examples:
            yield example.text
            if example.text_b is not None:
                yield example.text_b
        yield from self.region_label_names
        if self.tag_attributes:
            for store in self._stores:
                yield from store.attribute_names

    def lengths(self) -> np.ndarray:
        """[N] rough sequence lengths (text words, second-text words or regions, and regions), for length bucketing.

        Counted from the annotations and the stores' in-memory index, without tokenising or reading regions.
        """
        lengths = np.empty(len(self), dtype=np.int64)
        for index, (example, store) in enumerate(zip(self._examples, self._store_of_example, strict=True)):
            regions = min(self._stores[store].num_regions(example.image_id), self.max_regions)
            second = len(tokenize_caption(example.text_b)) if example.text_b is not None else regions
            lengths[index] = len(example.text.split()) + second + regions
        return lengths

    def second_words(self, index: int) -> list[str]:
        """Text b of example `index` (its answer, or its image's tags), the part a polluted example borrows."""
        example = self._examples[index]
        if example.text_b is not None:
            return tokenize_caption(example.text_b)
        store = self._stores[self._store_of_example[index]]
        if not self.tag_attributes:
            return tag_words(store.label_names_of(example.image_id)[: self.max_regions])
        return entry_tag_words(store[example.image_id], self.max_regions, attributes=True)

    def __getitem__(self, index: int) -> PretrainItem:
        example = self._examples[index]
        store_index = self._store_of_example[index]
        store = self._stores[store_index]
        entry = store[example.image_id]
        keep = slice(0, self.max_regions)
        attributes = None if entry.attribute_names is None else entry.attribute_names[keep]
        return PretrainItem(
            index=index,
            image_id=example.image_id,
            words=example_words(example),
            words_b=tokenize_caption(example.text_b) if example.text_b is not None else None,
            tags=list(entry.label_names[keep]),
            tag_words=entry_tag_words(entry, self.max_regions, self.tag_attributes),
            features=np.asarray(entry.features[keep], dtype=np.float32),
            geometry=store.geometry(entry, self.geometry)[keep],
            boxes=np.asarray(entry.boxes[keep], dtype=np.float32),
            labels=self._label_maps[store_index][entry.labels[keep]],
            attributes=attributes,
            graph=example.graph,
        )
