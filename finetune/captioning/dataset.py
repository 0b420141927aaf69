"""`CaptionDataset`: COCO captions with the regions and tags of their images; one example per caption for training,
one per image (with all its references) for evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from vlp.data.corpora import Corpus
from vlp.data.regions import ImageRegions, RegionReader, image_permutation
from vlp.store.geometry import GeometryStyle
from vlp.world import tokenize_caption


@dataclass
class CaptionItem(ImageRegions):
    """One caption (training) or one image (evaluation) with its image's regions (`ImageRegions`).

    Attributes:
        index: position in the dataset.
        image_id: the image's id in its store (COCO's integer id as a string).
        words: the caption's words; empty for an evaluation image.
        references: the image's reference captions (evaluation), empty in training.
    """

    index: int
    image_id: str
    words: list[str]
    references: tuple[str, ...]


class CaptionDataset(Dataset[CaptionItem]):
    """Captions of several corpora (`vlp.data.CocoCaptionsCorpus`: a COCO captions file, optionally kept to Karpathy
    splits) as one dataset, regions read lazily from each corpus's store.

    Args:
        corpora: the caption sources, read once here.
        per_image: one example per image with all its captions as references (evaluation and prediction), rather
            than one per caption (training).
        max_regions: the region budget per image (Oscar: 50).
        geometry: the box geometry style the model expects.
        tag_attributes: lead each tag with its region's attribute names; every store must hold attributes.
        shuffle_seed: when set, each image shows the regions and tags of another image of its store
            (`vlp.data.regions.image_permutation`): the control for how much the captions depend on the image.

    Raises:
        KeyError: naming up to five image ids that a corpus's store lacks.
    """

    def __init__(
        self,
        corpora: Sequence[Corpus],
        per_image: bool = False,
        max_regions: int = 50,
        geometry: GeometryStyle = "oscar",
        tag_attributes: bool = False,
        shuffle_seed: int | None = None,
    ) -> None:
        if not corpora:
            raise ValueError("give at least one caption corpus")
        self.regions = RegionReader(max_regions, geometry, tag_attributes)
        self._examples: list[tuple[str, str, tuple[str, ...]]] = []  # (store, image id, captions)
        for corpus in corpora:
            examples = corpus.read()
            self.regions.require(corpus.store, (example.image_id for example in examples), repr(corpus))
            if per_image:
                by_image: dict[str, list[str]] = {}
                for example in examples:
                    by_image.setdefault(example.image_id, []).append(example.text)
                self._examples += [(corpus.store, image, tuple(texts)) for image, texts in by_image.items()]
            else:
                self._examples += [(corpus.store, example.image_id, (example.text,)) for example in examples]
        self.per_image = per_image
        # The image whose regions each image shows: itself, or another of its store under the control's permutation.
        self.shown: dict[tuple[str, str], str] = {}
        for path in dict.fromkeys(store for store, _, _ in self._examples):
            images = [image for store, image, _ in self._examples if store == path]
            shown = image_permutation(images, shuffle_seed) if shuffle_seed is not None else {i: i for i in images}
            self.shown |= {(path, image): other for image, other in shown.items()}

    def __len__(self) -> int:
        return len(self._examples)

    def image_captions(self) -> dict[str, tuple[str, ...]]:
        """Each image's captions, images in the order of their first example (for a per-image dataset, the order of
        its examples): the references of evaluation and of SCST's rewards."""
        grouped: dict[str, list[str]] = {}
        for _, image, captions in self._examples:
            grouped.setdefault(image, []).extend(captions)
        return {image: tuple(captions) for image, captions in grouped.items()}

    def texts(self) -> Iterator[str]:
        """Every caption, then the region label names (and attribute names): what the tokenizer reads."""
        for _, _, captions in self._examples:
            yield from captions
        yield from self.regions.region_label_names
        yield from self.regions.attribute_names()

    def lengths(self) -> np.ndarray:
        """[N] rough lengths (caption words and twice the regions, for tags and regions), for length bucketing."""
        return np.array(
            [
                len(captions[0].split()) + 2 * self.regions.num_regions(store, image)
                for store, image, captions in self._examples
            ],
            dtype=np.int64,
        )

    def __getitem__(self, index: int) -> CaptionItem:
        store, image_id, captions = self._examples[index]
        return CaptionItem(
            **vars(self.regions.read(store, self.shown[store, image_id])),
            index=index,
            image_id=image_id,
            words=[] if self.per_image else tokenize_caption(captions[0]),
            references=captions if self.per_image else (),
        )
