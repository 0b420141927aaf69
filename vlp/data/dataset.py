"""`PretrainDataset`: the examples of several corpora with their regions, read lazily from each corpus's store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from vlp.data.corpora import Corpus, TextExample
from vlp.data.regions import ImageRegions, RegionReader
from vlp.store.geometry import GeometryStyle
from vlp.world import tokenize_caption


@dataclass
class PretrainItem(ImageRegions):
    """One example as the dataset reads it, before tokenisation and corruption (see `PretrainCollate`): its image's
    regions (`ImageRegions`: features, geometry, boxes, labels, tags, tag words, attributes) and its text.

    Attributes:
        index: position in the dataset.
        image_id: the image's id in its store.
        words: the text's words (the gold graph's tokens when it has one, so that its spans index into them).
        words_b: the words of the corpus's second text (an answer), or None when the tags take its place.
        graph: the gold scene graph of the text, or None.
    """

    index: int
    image_id: str
    words: list[str]
    words_b: list[str] | None
    graph: dict[str, Any] | None


def example_words(example: TextExample) -> list[str]:
    """The words of an example's text, in the tokenisation its gold scene graph's spans index into."""
    return list(example.graph["tokens"]) if example.graph is not None else tokenize_caption(example.text)


class PretrainDataset(Dataset[PretrainItem]):
    """The examples of several corpora as one map-style dataset; each example's regions come from its corpus's store
    through one `RegionReader` (corpora that share a store path share its reader).

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
        self.regions = RegionReader(max_regions, geometry, tag_attributes)
        self._examples: list[TextExample] = []
        self._store_of_example: list[str] = []
        for corpus in corpora:
            examples = corpus.read()
            self.regions.require(corpus.store, (example.image_id for example in examples), repr(corpus))
            self._examples += examples
            self._store_of_example += [corpus.store] * len(examples)

    @property
    def region_label_names(self) -> list[str]:
        """The region label vocabulary of every corpus's store."""
        return self.regions.region_label_names

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
        yield from self.regions.attribute_names()

    def lengths(self) -> np.ndarray:
        """[N] rough sequence lengths (text words, second-text words or regions, and regions), for length bucketing.

        Counted from the annotations and the stores' in-memory index, without tokenising or reading regions.
        """
        lengths = np.empty(len(self), dtype=np.int64)
        for index, (example, store) in enumerate(zip(self._examples, self._store_of_example, strict=True)):
            regions = self.regions.num_regions(store, example.image_id)
            second = len(tokenize_caption(example.text_b)) if example.text_b is not None else regions
            lengths[index] = len(example.text.split()) + second + regions
        return lengths

    def second_words(self, index: int) -> list[str]:
        """Text b of example `index` (its answer, or its image's tags), the part a polluted example borrows."""
        example = self._examples[index]
        if example.text_b is not None:
            return tokenize_caption(example.text_b)
        return self.regions.tag_words(self._store_of_example[index], example.image_id)

    def __getitem__(self, index: int) -> PretrainItem:
        example = self._examples[index]
        regions = self.regions.read(self._store_of_example[index], example.image_id)
        return PretrainItem(
            **vars(regions),
            index=index,
            image_id=example.image_id,
            words=example_words(example),
            words_b=tokenize_caption(example.text_b) if example.text_b is not None else None,
            graph=example.graph,
        )
