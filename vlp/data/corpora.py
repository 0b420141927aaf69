"""Pretraining corpora: where image-text pairs come from, each with the region store of its images.

A corpus reads its annotation files into `TextExample`s: the text (a caption or a question), an optional second text
(an answer; captions take their image's region tags instead, as Oscar does) and an optional gold scene graph of the
text (for ROSITA's structural knowledge masking). The YAML names corpora by `class_path`, e.g.

```yaml
train:
  - class_path: vlp.data.CocoCaptionsCorpus
    init_args: {captions: coco/captions_train2014.json, store: features/coco_train2014.h5}
  - class_path: vlp.data.VqaCorpus
    init_args: {questions: vqa/questions.json, annotations: vqa/annotations.json, store: features/coco_train2014.h5}
```
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlp.eval.vqa_files import read_annotations, read_questions
from vlp.store import RegionStore


@dataclass(frozen=True)
class TextExample:
    """One text about one image.

    Attributes:
        image_id: the image's id in the corpus's region store.
        text: the caption or question (Oscar's text a, token type 0).
        text_b: the second text (token type 1) when the corpus has one, e.g. a VQA answer; None means the image's
            region tags, as Oscar pairs captions with tags.
        graph: the gold scene graph of `text` in the layout of the world's `scene_graphs_<split>.json` entries
            (tokens, objects, attributes, relations with token spans), or None.
    """

    image_id: str
    text: str
    text_b: str | None = None
    graph: dict[str, Any] | None = None


class Corpus(ABC):
    """A source of `TextExample`s and the region store that holds their images.

    Args:
        store: the region store of the corpus's images (a file, a shard name or a folder; see `vlp.store.RegionStore`).
    """

    def __init__(self, store: str | Path) -> None:
        self.store = str(store)

    @abstractmethod
    def read(self) -> list[TextExample]:
        """Reads the corpus's examples (in file order)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r})"


def _read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _graphs_by_caption(path: str | Path | None) -> dict[int, dict[str, Any]]:
    """Gold scene graphs keyed by caption id, from a `scene_graphs_<split>.json` file."""
    if path is None:
        return {}
    return {graph["caption_id"]: graph for graph in _read_json(path)["graphs"]}


def _karpathy_images(path: str | Path, splits: Sequence[str]) -> set[int]:
    """COCO ids of the images that Karpathy's `dataset_coco.json` puts in `splits`."""
    return {entry["cocoid"] for entry in _read_json(path)["images"] if entry["split"] in splits}


class CocoCaptionsCorpus(Corpus):
    """COCO `captions_*.json` captions, each paired with its image's region tags.

    Args:
        captions: the captions json.
        store: region store of the captions' images.
        scene_graphs: optional gold scene graphs of the captions, by caption id.
        karpathy: optional Karpathy `dataset_coco.json`; with it only images of `splits` are kept, so that pretraining
            on COCO never sees the Karpathy val and test images the downstream tasks evaluate on.
        splits: Karpathy splits to keep.
    """

    def __init__(
        self,
        captions: str | Path,
        store: str | Path,
        scene_graphs: str | Path | None = None,
        karpathy: str | Path | None = None,
        splits: Sequence[str] = ("train", "restval"),
    ) -> None:
        super().__init__(store)
        self.captions, self.scene_graphs, self.karpathy, self.splits = captions, scene_graphs, karpathy, tuple(splits)

    def read(self) -> list[TextExample]:
        graphs = _graphs_by_caption(self.scene_graphs)
        keep = _karpathy_images(self.karpathy, self.splits) if self.karpathy is not None else None
        return [
            TextExample(str(entry["image_id"]), entry["caption"], None, graphs.get(entry["id"]))
            for entry in _read_json(self.captions)["annotations"]
            if keep is None or entry["image_id"] in keep
        ]


class CaptionJsonlCorpus(Corpus):
    """Captions one JSON object per line: `{"image_id": ..., "caption": ..., "scene_graph": {...}}` (the graph is
    optional), the shape of web caption dumps such as Conceptual Captions or SBU.

    Args:
        path: the JSONL file.
        store: region store of its images.
        text_key: the field holding the caption.
        image_key: the field holding the image id.
        graph_key: the field holding an optional gold scene graph.
    """

    def __init__(
        self,
        path: str | Path,
        store: str | Path,
        text_key: str = "caption",
        image_key: str = "image_id",
        graph_key: str = "scene_graph",
    ) -> None:
        super().__init__(store)
        self.path, self.text_key, self.image_key, self.graph_key = path, text_key, image_key, graph_key

    def read(self) -> list[TextExample]:
        examples = []
        with open(self.path, encoding="utf-8") as file:
            for line_number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                missing = [key for key in (self.text_key, self.image_key) if key not in record]
                if missing:
                    raise ValueError(f"{self.path}:{line_number}: no {' or '.join(missing)} field")
                text = record[self.text_key]
                examples.append(TextExample(str(record[self.image_key]), text, None, record.get(self.graph_key)))
        return examples


class VqaCorpus(Corpus):
    """VQA question-answer pairs as Oscar+ (VinVL) pretrains on them: the question is text a and the answer text b.

    VinVL's corpus puts the answer where captions have their tags (its `QA_fileB`), so its 3-way contrastive loss
    replaces the answer for label 1 and the question for label 2, and the image's tags are not in the sequence. Each
    question contributes its `multiple_choice_answer` (the most frequent human answer).

    Args:
        questions: VQA v2 questions json.
        annotations: the matching annotations json.
        store: region store of the questions' images.
    """

    def __init__(self, questions: str | Path, annotations: str | Path, store: str | Path) -> None:
        super().__init__(store)
        self.questions, self.annotations = questions, annotations

    def read(self) -> list[TextExample]:
        questions = read_questions(Path(self.questions))
        annotations = read_annotations(Path(self.annotations))
        examples = []
        for question_id, question in questions.items():
            answer = annotations[question_id].multiple_choice_answer if question_id in annotations else None
            if answer:
                examples.append(TextExample(str(question.image_id), question.question, answer))
        return examples


class StoreImages(Corpus):
    """Every image of a region store, without text: the images to caption when there are no annotations (a folder of
    your own images run through `extract-features`).

    Args:
        store: the region store.
    """

    def read(self) -> list[TextExample]:
        return [TextExample(image_id, "") for image_id in RegionStore(self.store).image_ids]
