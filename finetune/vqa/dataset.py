"""`VQADataset`: the questions of a split with their soft targets and the regions and tags of their images.

Every source is a questions file (with its annotations, except for test-dev and test-std) and the region store of its
images. With `shuffle_seed` set, each image shows the regions (features, boxes and tags) of another image of the same
store, by a fixed permutation: the control run that tells how much of the accuracy comes from looking at the image.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from finetune.vqa.answers import AnswerVocabulary, SoftTarget, TargetScoring
from finetune.vqa.data import VQAExample, VQAFiles, read_examples, with_targets
from vlp.data.regions import ImageRegions, RegionReader, image_permutation
from vlp.store.geometry import GeometryStyle


@dataclass(frozen=True)
class VQASource:
    """One split's official question file, its annotations and the region store of its images.

    Attributes:
        questions: the questions json (`v2_OpenEnded_mscoco_<split>_questions.json`, or a Visual Genome QA file in the
            same layout).
        store: the region store of its images (a file, a shard name or a folder; see `vlp.store.RegionStore`).
        annotations: the annotations json; None for questions-only splits (test-dev, test-std).
    """

    questions: str
    store: str
    annotations: str | None = None

    @property
    def files(self) -> VQAFiles:
        return VQAFiles(Path(self.questions), None if self.annotations is None else Path(self.annotations))


@dataclass
class VQAItem(ImageRegions):
    """One question as the dataset reads it, before tokenisation (see `finetune.vqa.collate.VQACollate`): the regions
    its image shows (`ImageRegions`; Oscar's text b is their `tag_words`) and the question.

    Attributes:
        index: position in the dataset.
        question_id: the official question id.
        words: the question split at white space (the tokenizer splits punctuation off).
        target: the soft target over the answer vocabulary; None without annotations or vocabulary.
        answers: the human answers (empty without annotations), for the official accuracy.
        answer_type: "yes/no", "number" or "other"; None without annotations.
    """

    index: int
    question_id: int
    words: list[str]
    target: SoftTarget | None
    answers: tuple[str, ...]
    answer_type: str | None


class VQADataset(Dataset[VQAItem]):
    """The questions of several sources as one map-style dataset; regions are read lazily from each source's store.

    Args:
        sources: the question files and their stores, read once here.
        vocabulary: the answer classes; annotated questions get their soft targets over it (None: no targets).
        scoring: how soft targets score an answer (see `finetune.vqa.answers`).
        max_regions: the region budget per image (Oscar: 50), the first regions in the store's order.
        geometry: the box geometry style the model expects.
        shuffle_seed: when set, each image shows the regions and tags of another image of its store (see
            `image_permutation`), a control for how much the answers depend on the image.
        tag_attributes: lead each tag with its region's attribute names ("green small star"); every store must hold
            attributes.

    Raises:
        KeyError: naming up to five image ids that a source's store lacks.
        ValueError: `tag_attributes` is set and a store holds no attributes.
    """

    def __init__(
        self,
        sources: Sequence[VQASource],
        vocabulary: AnswerVocabulary | None = None,
        scoring: TargetScoring = "leave_one_out",
        max_regions: int = 50,
        geometry: GeometryStyle = "oscar",
        shuffle_seed: int | None = None,
        tag_attributes: bool = False,
    ) -> None:
        if not sources:
            raise ValueError("give at least one VQA source")
        self.regions = RegionReader(max_regions, geometry, tag_attributes)
        self._examples: list[VQAExample] = []
        self._store_of_example: list[str] = []
        for source in sources:
            examples = read_examples(source.files)
            if vocabulary is not None and source.annotations is not None:
                examples = with_targets(examples, vocabulary, scoring)
            self.regions.require(source.store, (example.image_id for example in examples), source.questions)
            self._examples += examples
            self._store_of_example += [source.store] * len(examples)
        # The image whose regions each image shows: itself, or its image under the control's permutation (per store,
        # so that a shown image always comes from the store that holds it).
        self.region_image: dict[tuple[str, int], int] = {}
        for path in dict.fromkeys(self._store_of_example):
            images = [e.image_id for e, s in zip(self._examples, self._store_of_example, strict=True) if s == path]
            shown = image_permutation(images, shuffle_seed) if shuffle_seed is not None else {i: i for i in images}
            self.region_image |= {(path, image): other for image, other in shown.items()}

    def __len__(self) -> int:
        return len(self._examples)

    def example(self, index: int) -> VQAExample:
        """The question and annotation of example `index`, without reading its regions."""
        return self._examples[index]

    def texts(self) -> Iterator[str]:
        """Every question, then the region label names (and attribute names with `tag_attributes`): what the
        tokenizer reads."""
        for example in self._examples:
            yield example.question
        yield from self.regions.region_label_names
        yield from self.regions.attribute_names()

    def shown_image(self, index: int) -> int:
        """The image whose regions example `index` shows (its own unless shuffled)."""
        return self.region_image[self._store_of_example[index], self._examples[index].image_id]

    def lengths(self) -> np.ndarray:
        """[N] rough sequence lengths (question words, then as many tags and regions as regions), for length
        bucketing; from the stores' in-memory index, without tokenising or reading regions."""
        lengths = np.empty(len(self), dtype=np.int64)
        for index, (example, path) in enumerate(zip(self._examples, self._store_of_example, strict=True)):
            regions = self.regions.num_regions(path, self.shown_image(index))
            lengths[index] = len(example.question.split()) + 2 * regions
        return lengths

    def __getitem__(self, index: int) -> VQAItem:
        example = self._examples[index]
        regions = self.regions.read(self._store_of_example[index], self.shown_image(index))
        return VQAItem(
            **vars(regions),
            index=index,
            question_id=example.question_id,
            words=example.question.split(),
            target=example.target,
            answers=example.answers,
            answer_type=example.answer_type,
        )
