"""What the tests know about the demo world independently of the generator.

Word meanings, the documented relation geometry, a reader of the written files, and an answerer of the questions that
works from the COCO instances json alone. Nothing here imports the generator's internals: if the generator and this
file disagree, one of them broke the documented contract.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlp.world import SPLITS, WorldFiles

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "gray")
SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")
SIZES = ("small", "large")
COLOUR_WORDS = {colour: colour for colour in COLOURS} | {"grey": "gray"}
SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "large": "large", "big": "large"}
SHAPE_WORDS = {shape: shape for shape in SHAPES} | {"disc": "circle", "rhombus": "diamond", "plus sign": "cross"}
GENERIC_NOUNS = {"object", "shape", "thing"}
RELATION_PHRASES = {
    "to the left of": "left of",
    "left of": "left of",
    "on the left of": "left of",
    "to the right of": "right of",
    "right of": "right of",
    "on the right of": "right of",
    "above": "above",
    "over": "above",
    "below": "below",
    "under": "below",
    "beneath": "below",
    "next to": "next to",
    "beside": "next to",
    "near": "next to",
}
# "next to": the boxes are at most this fraction of the image side apart (documented in vlp.world.scene).
NEXT_TO_FRACTION = 0.12
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")


@dataclass(frozen=True)
class Instance:
    """An object as the COCO instances json describes it."""

    annotation_id: int
    image_id: int
    shape: str
    colour: str
    size: str
    bbox: tuple[float, float, float, float]


def relation_holds(relation: str, a: Instance, b: Instance, image_side: int) -> bool:
    """Whether "a is <relation> b" by the documented box geometry."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = a.bbox, b.bbox
    if relation == "left of":
        return ax + aw <= bx
    if relation == "right of":
        return bx + bw <= ax
    if relation == "above":
        return ay + ah <= by
    if relation == "below":
        return by + bh <= ay
    assert relation == "next to", relation
    gap = max(bx - (ax + aw), ax - (bx + bw), by - (ay + ah), ay - (by + bh))
    return gap <= NEXT_TO_FRACTION * image_side


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    intersection = width * height
    return intersection / (a[2] * a[3] + b[2] * b[3] - intersection)


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


@dataclass
class LoadedWorld:
    """Every json file of a generated world, parsed, plus the instances per image."""

    files: WorldFiles
    instances: dict[str, dict[str, Any]]
    captions: dict[str, dict[str, Any]]
    vqa_questions: dict[str, dict[str, Any]]
    vqa_annotations: dict[str, dict[str, Any]]
    scene_graphs: dict[str, dict[str, Any]]
    karpathy: dict[str, Any]
    objects: dict[int, list[Instance]]
    image_side: dict[int, int]

    @classmethod
    def load(cls, files: WorldFiles) -> LoadedWorld:
        instances = {split: _read(files.instances[split]) for split in SPLITS}
        objects: dict[int, list[Instance]] = {}
        image_side: dict[int, int] = {}
        for content in instances.values():
            names = {category["id"]: category["name"] for category in content["categories"]}
            for image in content["images"]:
                objects[image["id"]] = []
                image_side[image["id"]] = image["width"]
            for ann in content["annotations"]:
                (colour,) = [a for a in ann["attributes"] if a in COLOURS]
                (size,) = [a for a in ann["attributes"] if a in SIZES]
                instance = Instance(
                    ann["id"], ann["image_id"], names[ann["category_id"]], colour, size, tuple(ann["bbox"])
                )
                objects[ann["image_id"]].append(instance)
        return cls(
            files=files,
            instances=instances,
            captions={split: _read(files.captions[split]) for split in SPLITS},
            vqa_questions={split: _read(files.vqa_questions[split]) for split in SPLITS},
            vqa_annotations={split: _read(files.vqa_annotations[split]) for split in SPLITS},
            scene_graphs={split: _read(files.scene_graphs[split]) for split in SPLITS},
            karpathy=_read(files.karpathy),
            objects=objects,
            image_side=image_side,
        )

    def all_of(self, kind: str, key: str) -> list[dict[str, Any]]:
        """The `key` list of the `kind` file ("instances", "captions", ...) concatenated over the splits."""
        return [item for split in SPLITS for item in getattr(self, kind)[split][key]]


def _singular(noun: str) -> str:
    if noun.endswith("es") and noun[:-2] in SHAPES:
        return noun[:-2]
    return noun[:-1] if noun.endswith("s") else noun


def parse_description(words: str, plural: bool = False) -> dict[str, str]:
    """ "small red circle" -> {"size": "small", "colour": "red", "shape": "circle"}; "object" -> {}."""
    *adjectives, noun = words.split()
    noun = _singular(noun) if plural else noun
    values = {} if noun == "object" else {"shape": SHAPE_WORDS[noun]}
    for word in adjectives:
        if word in COLOUR_WORDS:
            values["colour"] = COLOUR_WORDS[word]
        else:
            values["size"] = SIZE_WORDS[word]
    return values


def matching(objects: list[Instance], values: dict[str, str]) -> list[Instance]:
    return [obj for obj in objects if all(getattr(obj, key) == value for key, value in values.items())]


def _the(objects: list[Instance], words: str) -> Instance:
    """The one object that "the <words>" refers to; fails if the reference is ambiguous or empty."""
    found = matching(objects, parse_description(words))
    assert len(found) == 1, f"'the {words}' fits {len(found)} objects"
    return found[0]


def expected_answer(question: str, objects: list[Instance], image_side: int) -> str:
    """The right answer to a question about an image, worked out from the image's instances alone."""
    yes_no = {True: "yes", False: "no"}
    if m := re.fullmatch(r"what color is the (.+)\?", question):
        return _the(objects, m[1]).colour
    if m := re.fullmatch(r"what shape is the (.+)\?", question):
        return _the(objects, m[1]).shape
    if m := re.fullmatch(r"how many (.+) (?:are there|are in the picture|can you see)\?", question):
        return str(len(matching(objects, parse_description(m[1], plural=True))))
    if m := re.fullmatch(r"is there an? (.+)\?", question):
        return yes_no[bool(matching(objects, parse_description(m[1])))]
    if m := re.fullmatch(r"are there any (.+)\?", question):
        return yes_no[bool(matching(objects, parse_description(m[1], plural=True)))]
    if m := re.fullmatch(r"is the (.+) (to the left of|to the right of|above|below|next to) the (.+)\?", question):
        subject, obj = _the(objects, m[1]), _the(objects, m[3])
        return yes_no[relation_holds(RELATION_PHRASES[m[2]], subject, obj, image_side)]
    if m := re.fullmatch(r"is the (.+) (small|large)\?", question):
        return yes_no[_the(objects, m[1]).size == m[2]]
    raise AssertionError(f"unknown question form: {question!r}")
