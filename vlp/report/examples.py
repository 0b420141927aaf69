"""What the finetuned models said about a few test images, read back from the task's result files (all in their
official layouts): VQA answers beside the human majority answer, generated captions beside the references, and the
top captions retrieved for each image."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ImageExamples:
    """One test image's examples.

    Attributes:
        image_id: the image.
        answers: (question, model's answer, most common human answer) triples.
        caption: the generated caption, or None.
        references: the image's reference captions.
        retrieved: the top captions retrieved for the image, each with whether it is one of the image's own.
    """

    image_id: str
    answers: list[tuple[str, str, str]] = field(default_factory=list)
    caption: str | None = None
    references: list[str] = field(default_factory=list)
    retrieved: list[tuple[str, bool]] = field(default_factory=list)


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read it for the report ({error})") from error


def add_vqa(
    examples: dict[str, ImageExamples], questions: Path, annotations: Path, results: Path, per_image: int = 3
) -> None:
    """Adds each image's first `per_image` questions with the model's answer and the human majority answer."""
    answered = {entry["question_id"]: entry["answer"] for entry in _load(results)}
    majority = {}
    for entry in _load(annotations)["annotations"]:
        answers = [record["answer"] for record in entry["answers"]]
        majority[entry["question_id"]] = entry.get("multiple_choice_answer") or Counter(answers).most_common(1)[0][0]
    for question in _load(questions)["questions"]:
        image = examples.get(str(question["image_id"]))
        qid = question["question_id"]
        if image is not None and len(image.answers) < per_image and qid in answered:
            image.answers.append((question["question"], answered[qid], majority.get(qid, "?")))


def add_captions(examples: dict[str, ImageExamples], references: Path, results: Path) -> None:
    """Adds each image's generated caption and its reference captions (a COCO captions json)."""
    for entry in _load(results):
        image = examples.get(str(entry["image_id"]))
        if image is not None:
            image.caption = entry["caption"]
    for entry in _load(references)["annotations"]:
        image = examples.get(str(entry["image_id"]))
        if image is not None:
            image.references.append(entry["caption"])


def add_retrieved(examples: dict[str, ImageExamples], split_file: Path, rankings: Path, top: int = 5) -> None:
    """Adds each image's `top` retrieved captions from a `rankings.json`, their text from the Karpathy split file."""
    sentences, owner = {}, {}
    for image in _load(split_file)["images"]:
        image_id = str(image.get("cocoid", Path(image.get("filename", "")).stem))
        for sentence in image["sentences"]:
            sentences[sentence["sentid"]] = sentence["raw"]
            owner[sentence["sentid"]] = image_id
    for entry in _load(rankings)["image_to_text"]:
        image = examples.get(str(entry["image_id"]))
        if image is not None:
            image.retrieved = [(sentences[sid], owner[sid] == image.image_id) for sid in entry["caption_ids"][:top]]
