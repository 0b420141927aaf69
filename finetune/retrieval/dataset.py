"""Retrieval data from Karpathy's split files: one training example per caption (`RetrievalDataset`), and the
evaluation gallery (`RetrievalGallery`): every image of a split, one item each, with all their captions held apart as
the queries and candidates of the other direction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from vlp.data.karpathy import SplitImage, fold_of, read_split_file
from vlp.data.regions import ImageRegions, RegionReader, image_permutation
from vlp.store.geometry import GeometryStyle
from vlp.world import tokenize_caption


@dataclass(frozen=True)
class RetrievalSource:
    """The images of some splits of a Karpathy split file and the region store that holds them.

    Args:
        split_file: `dataset_coco.json` or `dataset_flickr30k.json`.
        store: their region store.
        splits: the splits to read (training: ["train", "restval"]; evaluation: ["test"] or ["val"]).
        folds: evaluation: the images (in file order) split into this many folds of equal size, each ranked on its own
            and the recalls averaged (COCO's 1K test: the 5K test in 5 folds).
        max_images: only the first this many images of the splits (e.g. a 1K validation subset, as Oscar's minival).
    """

    split_file: str
    store: str
    splits: Sequence[str] = ("test",)
    folds: int = 1
    max_images: int | None = None


@dataclass
class RetrievalItem(ImageRegions):
    """A caption with its image's regions (training), or an image alone (the gallery).

    Attributes:
        index: position in the dataset.
        image: the image's number in its dataset (equal numbers, equal images).
        image_id: the image's id in its store.
        words: the caption's words; empty for a gallery image.
    """

    index: int
    image: int
    image_id: str
    words: list[str]


@dataclass(frozen=True)
class GalleryCaption:
    """One caption of the gallery: its split-file `sentid`, words and the number of its image."""

    sentid: int
    words: list[str]
    image: int


@dataclass(frozen=True)
class SourceImage:
    """An image of a source: its store, its split-file entry and its fold (numbered over all sources)."""

    store: str
    entry: SplitImage
    fold: int


def read_sources(sources: Sequence[RetrievalSource], reader: RegionReader) -> list[SourceImage]:
    """The images of `sources` in order, checked to be in their stores.

    Raises:
        ValueError: no sources; FormatError (a ValueError): a source without images or a malformed split file.
        KeyError: naming image ids that a store lacks.
    """
    if not sources:
        raise ValueError("give at least one retrieval source")
    images: list[SourceImage] = []
    folds_before = 0
    for source in sources:
        read = read_split_file(source.split_file, source.splits)[: source.max_images]
        reader.require(source.store, (image.image_id for image in read), f"{source.split_file} {list(source.splits)}")
        images += [
            SourceImage(source.store, image, folds_before + fold_of(position, len(read), source.folds))
            for position, image in enumerate(read)
        ]
        folds_before += source.folds
    return images


def source_texts(images: Sequence[SourceImage], reader: RegionReader) -> Iterator[str]:
    """Every caption of `images`, then the region label names (and attribute names) of their stores."""
    for image in images:
        yield from image.entry.captions
    yield from reader.region_label_names
    yield from reader.attribute_names()


def shown_images(images: Sequence[SourceImage], shuffle_seed: int | None) -> dict[tuple[str, str], str]:
    """(store, image id) -> the id of the image whose regions and tags it shows: itself, or with `shuffle_seed` another
    image of its store by a fixed permutation (`vlp.data.regions.image_permutation`), the shuffled-regions control."""
    shown: dict[tuple[str, str], str] = {}
    for path in dict.fromkeys(image.store for image in images):
        ids = [image.entry.image_id for image in images if image.store == path]
        permutation = image_permutation(ids, shuffle_seed) if shuffle_seed is not None else {i: i for i in ids}
        shown |= {(path, image_id): other for image_id, other in permutation.items()}
    return shown


class RetrievalDataset(Dataset[RetrievalItem]):
    """One training example per caption, with its image's regions and tags.

    Args:
        sources: the training splits.
        max_regions: the region budget per image (Oscar's retrieval: 70).
        geometry: the box geometry style the model expects.
        tag_attributes: lead each tag with its region's attribute names; every store must hold attributes.
        shuffle_seed: when set, each image shows the regions and tags of another image of its store (a fixed
            permutation): a model trained so never sees its images, the trained control of `vlp demo --full`.
    """

    def __init__(
        self,
        sources: Sequence[RetrievalSource],
        max_regions: int = 70,
        geometry: GeometryStyle = "oscar",
        tag_attributes: bool = False,
        shuffle_seed: int | None = None,
    ) -> None:
        self.regions = RegionReader(max_regions, geometry, tag_attributes)
        self.images = read_sources(sources, self.regions)
        self.shown = shown_images(self.images, shuffle_seed)
        self._examples = [
            (image, caption)
            for image, source in enumerate(self.images)
            for caption in range(len(source.entry.captions))
        ]

    def __len__(self) -> int:
        return len(self._examples)

    def texts(self) -> Iterator[str]:
        """Every caption, then the region label names (and attribute names): what the tokenizer reads."""
        return source_texts(self.images, self.regions)

    def lengths(self) -> np.ndarray:
        """[N] rough lengths (caption words and twice the regions), for length bucketing."""
        return np.array(
            [
                len(self.images[image].entry.captions[caption].split())
                + 2 * self.regions.num_regions(self.images[image].store, self.images[image].entry.image_id)
                for image, caption in self._examples
            ],
            dtype=np.int64,
        )

    def __getitem__(self, index: int) -> RetrievalItem:
        image, caption = self._examples[index]
        source = self.images[image]
        return RetrievalItem(
            **vars(self.regions.read(source.store, self.shown[(source.store, source.entry.image_id)])),
            index=index,
            image=image,
            image_id=source.entry.image_id,
            words=tokenize_caption(source.entry.captions[caption]),
        )


class RetrievalGallery(Dataset[RetrievalItem]):
    """The evaluation gallery: one item per image (its regions and tags), and every caption of the images in
    `captions`; each image and caption belongs to one fold, and is ranked only against its fold.

    Args:
        sources: the evaluated splits.
        max_regions: the region budget per image.
        geometry: the box geometry style the model expects.
        tag_attributes: lead each tag with its region's attribute names.
        shuffle_seed: when set, each image shows the regions and tags of another image of its store (a fixed
            permutation, `vlp.data.regions.image_permutation`): the control for how much retrieval reads the image.
    """

    def __init__(
        self,
        sources: Sequence[RetrievalSource],
        max_regions: int = 70,
        geometry: GeometryStyle = "oscar",
        tag_attributes: bool = False,
        shuffle_seed: int | None = None,
    ) -> None:
        self.regions = RegionReader(max_regions, geometry, tag_attributes)
        self.images = read_sources(sources, self.regions)
        self.captions = [
            GalleryCaption(sentid, tokenize_caption(text), image)
            for image, source in enumerate(self.images)
            for sentid, text in zip(source.entry.sentids, source.entry.captions, strict=True)
        ]
        self.shown = shown_images(self.images, shuffle_seed)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_ids(self) -> list[str]:
        """Each image's store id, in gallery order."""
        return [image.entry.image_id for image in self.images]

    @property
    def image_folds(self) -> list[int]:
        """Each image's fold."""
        return [image.fold for image in self.images]

    def texts(self) -> Iterator[str]:
        """Every caption, then the region label names (and attribute names): what the tokenizer reads."""
        return source_texts(self.images, self.regions)

    def __getitem__(self, index: int) -> RetrievalItem:
        source = self.images[index]
        store, image_id = source.store, source.entry.image_id
        return RetrievalItem(
            **vars(self.regions.read(store, self.shown[store, image_id])),
            index=index,
            image=index,
            image_id=image_id,
            words=[],
        )
