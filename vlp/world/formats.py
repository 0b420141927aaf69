"""The world's annotations in the official layouts: COCO instances and captions, Karpathy's split file, VQA v2 questions
and annotations; and the per-caption scene graphs in this project's own layout.

Each builder returns a plain dict ready for `write_json`. Fields beyond the official ones: `attributes` on COCO instance
annotations with the vocabulary in a top-level `attribute_names`, as an extractor with an attribute head stores them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlp.world.captions import Caption
from vlp.world.questions import Question
from vlp.world.scene import Scene
from vlp.world.shapes import outline, polygon_area
from vlp.world.tokens import tokenize_caption
from vlp.world.vocabulary import COLOURS, SHAPES, SIZES

IMAGE_FOLDER = "images"
LICENSE = {"id": 1, "name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}
CATEGORIES = [{"id": i + 1, "name": shape, "supercategory": "shape"} for i, shape in enumerate(SHAPES)]
CATEGORY_IDS = {category["name"]: category["id"] for category in CATEGORIES}
ATTRIBUTE_NAMES = [*COLOURS, *SIZES]
# Polygon vertices are written with two decimals, as in COCO.
DECIMALS = 2


@dataclass(frozen=True)
class WorldImage:
    """Everything generated for one image: its scene, its Karpathy split, its captions and its questions."""

    scene: Scene
    split: str
    captions: tuple[Caption, ...]
    questions: tuple[Question, ...]


def image_file_name(image_id: int) -> str:
    """COCO-style file name, e.g. `COCO_synth_000000000123.png`."""
    return f"COCO_synth_{image_id:012d}.png"


def info(description: str) -> dict[str, Any]:
    """The COCO `info` block; fixed apart from `description`, so that files stay byte-identical across runs."""
    return {
        "description": description,
        "url": "",
        "version": "1.0",
        "year": 2024,
        "contributor": "vlp.world",
        "date_created": "2024/01/01",
    }


def _coco_images(images: Sequence[WorldImage]) -> list[dict[str, Any]]:
    return [
        {
            "license": LICENSE["id"],
            "file_name": image_file_name(image.scene.image_id),
            "height": image.scene.height,
            "width": image.scene.width,
            "id": image.scene.image_id,
        }
        for image in images
    ]


def coco_instances(images: Sequence[WorldImage], info_block: dict[str, Any]) -> dict[str, Any]:
    """COCO `instances_<split>.json`: one annotation per object, its polygon as the segmentation."""
    annotations = []
    for image in images:
        for obj in image.scene.objects:
            polygon = outline(obj.shape, obj.box)
            annotations.append(
                {
                    "segmentation": [[round(c, DECIMALS) for point in polygon for c in point]],
                    "area": round(polygon_area(polygon), DECIMALS),
                    "iscrowd": 0,
                    "image_id": image.scene.image_id,
                    "bbox": [float(c) for c in obj.box],
                    "category_id": CATEGORY_IDS[obj.shape],
                    "id": obj.annotation_id,
                    "attributes": [obj.colour, obj.size],
                }
            )
    return {
        "info": info_block,
        "licenses": [LICENSE],
        "images": _coco_images(images),
        "annotations": annotations,
        "categories": CATEGORIES,
        "attribute_names": ATTRIBUTE_NAMES,
    }


def coco_captions(images: Sequence[WorldImage], info_block: dict[str, Any]) -> dict[str, Any]:
    """COCO `captions_<split>.json`."""
    annotations = [
        {"image_id": image.scene.image_id, "id": caption.caption_id, "caption": caption.text}
        for image in images
        for caption in image.captions
    ]
    return {"info": info_block, "licenses": [LICENSE], "images": _coco_images(images), "annotations": annotations}


def karpathy_split(images: Sequence[WorldImage]) -> dict[str, Any]:
    """Karpathy's `dataset_coco.json` over all splits; `sentid` counts sentences over the file, as in the original."""
    entries, sentid = [], 0
    for imgid, image in enumerate(images):
        sentences = []
        for caption in image.captions:
            # Karpathy's tokens are the words alone, without punctuation.
            tokens = [token for token in tokenize_caption(caption.text) if token.isalnum()]
            sentences.append({"tokens": tokens, "raw": caption.text, "imgid": imgid, "sentid": sentid})
            sentid += 1
        entries.append(
            {
                "filepath": IMAGE_FOLDER,
                "sentids": [sentence["sentid"] for sentence in sentences],
                "filename": image_file_name(image.scene.image_id),
                "imgid": imgid,
                "split": image.split,
                "sentences": sentences,
                "cocoid": image.scene.image_id,
            }
        )
    return {"images": entries, "dataset": "coco"}


def vqa_questions(images: Sequence[WorldImage], split: str, info_block: dict[str, Any]) -> dict[str, Any]:
    """VQA v2 `v2_OpenEnded_mscoco_<split>_questions.json`."""
    questions = [
        {"image_id": image.scene.image_id, "question": question.text, "question_id": question.question_id}
        for image in images
        for question in image.questions
    ]
    return {
        "info": info_block,
        "task_type": "Open-Ended",
        "data_type": "mscoco",
        "license": {"name": LICENSE["name"], "url": LICENSE["url"]},
        "data_subtype": split,
        "questions": questions,
    }


def vqa_annotations(images: Sequence[WorldImage], split: str, info_block: dict[str, Any]) -> dict[str, Any]:
    """VQA v2 `v2_mscoco_<split>_annotations.json`, ten answers per question."""
    annotations = [
        {
            "question_type": question.question_type,
            "multiple_choice_answer": question.answer,
            "answers": [
                {"answer": given.answer, "answer_confidence": given.confidence, "answer_id": answer_id}
                for answer_id, given in enumerate(question.answers, start=1)
            ],
            "image_id": image.scene.image_id,
            "answer_type": question.answer_type,
            "question_id": question.question_id,
        }
        for image in images
        for question in image.questions
    ]
    return {
        "info": info_block,
        "license": {"name": LICENSE["name"], "url": LICENSE["url"]},
        "data_subtype": split,
        "data_type": "mscoco",
        "annotations": annotations,
    }


def scene_graphs(images: Sequence[WorldImage], info_block: dict[str, Any]) -> dict[str, Any]:
    """The gold scene graph of every caption: tokens (by `tokenize_caption`), objects, attributes, relations.

    Spans are [start, end) token indices; an object's `annotation_id` is the COCO instance it denotes; attributes and
    relations refer to objects by their `id` within the caption.
    """
    graphs = [
        {
            "caption_id": caption.caption_id,
            "image_id": image.scene.image_id,
            "caption": caption.text,
            "tokens": list(caption.tokens),
            "objects": [
                {"id": o.id, "name": o.name, "span": list(o.span), "annotation_id": o.annotation_id}
                for o in caption.objects
            ],
            "attributes": [{"object": a.object, "name": a.name, "span": list(a.span)} for a in caption.attributes],
            "relations": [
                {"subject": r.subject, "object": r.object, "predicate": r.predicate, "span": list(r.span)}
                for r in caption.relations
            ],
        }
        for image in images
        for caption in image.captions
    ]
    return {"info": info_block, "tokenizer": "vlp.world.tokenize_caption", "graphs": graphs}


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Writes compact json (as the official files are) whose bytes depend only on `content`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(content, separators=(",", ":")).encode("utf-8"))
