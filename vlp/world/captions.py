"""Captions of a scene, each with its gold scene graph (objects, attributes, relations and their token spans).

A caption mentions one to three objects, each with a colour and/or a size ("a small red circle"), often with a relation
between two of them. Mentions are indefinite ("a red circle"), so a caption is true as long as the objects it was built
from have the attributes and relations it states, which holds by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vlp.world.scene import Scene, SceneObject, relations
from vlp.world.tokens import tokenize_caption
from vlp.world.vocabulary import (
    COLOUR_WORDS,
    GENERIC_NOUNS,
    NUMBER_WORDS,
    RELATION_WORDS,
    SHAPE_WORDS,
    SIZE_WORDS,
    article,
    plural,
)

CAPTIONS_PER_IMAGE = 5
# Generous: five distinct captions come within a handful of draws even for a two-object image.
MAX_ATTEMPTS = 200
# How a mention is worded: chance of stating the colour, the size, and of saying "object"/"shape"/"thing" for the shape.
P_COLOUR, P_SIZE, P_GENERIC_NOUN = 0.8, 0.4, 0.15
# Real captions are not uniformly cased or punctuated; the tokenizer lowercases and splits the full stop off.
P_CAPITALISED, P_FULL_STOP = 0.75, 0.5
PICTURE_PREFIXES = ("a picture of", "an image of", "a drawing of", "this image shows", "there is")
_PUNCTUATION = (",", ":", ".")


@dataclass(frozen=True)
class GraphObject:
    """A mentioned object.

    Attributes:
        id: its index among the caption's objects.
        name: the noun's words as written, e.g. "circle", "plus sign", "object".
        span: [start, end) token indices of `name`.
        annotation_id: the COCO instance annotation it denotes.
    """

    id: int
    name: str
    span: tuple[int, int]
    annotation_id: int


@dataclass(frozen=True)
class GraphAttribute:
    """A colour or size word of a mentioned object: the object's id, the word as written, its token span."""

    object: int
    name: str
    span: tuple[int, int]


@dataclass(frozen=True)
class GraphRelation:
    """A spatial relation between two mentioned objects: their ids, the phrase as written, its token span."""

    subject: int
    object: int
    predicate: str
    span: tuple[int, int]


@dataclass(frozen=True)
class Caption:
    """A caption and its gold scene graph; `tokens` is `tokenize_caption(text)`."""

    caption_id: int
    text: str
    tokens: tuple[str, ...]
    objects: tuple[GraphObject, ...]
    attributes: tuple[GraphAttribute, ...]
    relations: tuple[GraphRelation, ...]


def _choice(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


class _CaptionBuilder:
    """Collects a caption left to right and records the span of every graph part as it is written."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._text = ""
        self._tokens: list[str] = []
        self._objects: list[GraphObject] = []
        self._attributes: list[GraphAttribute] = []
        self._relations: list[GraphRelation] = []

    def text(self, words: str) -> tuple[int, int]:
        """Appends words (or one punctuation mark, written without a space before it); returns their token span."""
        separator = "" if not self._text or words in _PUNCTUATION else " "
        self._text += separator + words
        start = len(self._tokens)
        self._tokens += tokenize_caption(words)
        return start, len(self._tokens)

    def mention(self, obj: SceneObject) -> int:
        """Appends "a [size] [colour] noun" for `obj`, with at least one of size and colour; returns its graph id."""
        rng = self._rng
        with_colour = bool(rng.random() < P_COLOUR)
        with_size = bool(rng.random() < P_SIZE) or not with_colour
        noun = _choice(rng, GENERIC_NOUNS if rng.random() < P_GENERIC_NOUN else SHAPE_WORDS[obj.shape])
        modifiers = [_choice(rng, SIZE_WORDS[obj.size])] if with_size else []
        modifiers += [_choice(rng, COLOUR_WORDS[obj.colour])] if with_colour else []
        node = len(self._objects)
        self.text(article(modifiers[0]))
        for word in modifiers:
            self._attributes.append(GraphAttribute(node, word, self.text(word)))
        self._objects.append(GraphObject(node, noun, self.text(noun), obj.annotation_id))
        return node

    def relation(self, subject: int, relation: str, obj: SceneObject) -> int:
        """Appends "<relation phrase> <mention of obj>", relating graph object `subject` to it; returns obj's id."""
        predicate = _choice(self._rng, RELATION_WORDS[relation])
        span = self.text(predicate)
        node = self.mention(obj)
        self._relations.append(GraphRelation(subject, node, predicate, span))
        return node

    def mention_list(self, objects: Sequence[SceneObject]) -> None:
        """Appends "A", "A and B" or "A, B and C"."""
        for i, obj in enumerate(objects):
            if i and i == len(objects) - 1:
                self.text("and")
            elif i:
                self.text(",")
            self.mention(obj)

    def build(self, caption_id: int) -> Caption:
        """Finishes the caption, maybe with a full stop and a capital letter (neither changes the tokens' words)."""
        if self._rng.random() < P_FULL_STOP:
            self.text(".")
        text = self._text[0].upper() + self._text[1:] if self._rng.random() < P_CAPITALISED else self._text
        return Caption(
            caption_id,
            text,
            tuple(self._tokens),
            tuple(self._objects),
            tuple(self._attributes),
            tuple(self._relations),
        )


def _related_pair(scene: Scene, rng: np.random.Generator) -> tuple[SceneObject, SceneObject, str]:
    """Two distinct objects and one relation that holds from the first to the second (one always does)."""
    i, j = rng.choice(len(scene.objects), size=2, replace=False)
    a, b = scene.objects[i], scene.objects[j]
    return a, b, _choice(rng, relations(a, b, scene.width))


def _relation_caption(builder: _CaptionBuilder, scene: Scene, rng: np.random.Generator) -> None:
    """E.g. "a red circle to the left of a small blue square", "there is a large green star above a triangle"."""
    a, b, relation = _related_pair(scene, rng)
    style = int(rng.integers(3))
    if style == 1:
        builder.text(_choice(rng, PICTURE_PREFIXES))
    subject = builder.mention(a)
    if style == 2:
        builder.text("is")
    builder.relation(subject, relation, b)


def _relation_and_third_caption(builder: _CaptionBuilder, scene: Scene, rng: np.random.Generator) -> None:
    """E.g. "a red circle is above a blue square, and there is also a small star" (needs three objects)."""
    a, b, relation = _related_pair(scene, rng)
    others = [obj for obj in scene.objects if obj not in (a, b)]
    subject = builder.mention(a)
    builder.text("is")
    builder.relation(subject, relation, b)
    builder.text(",")
    builder.text(_choice(rng, ("and there is also", "and there is")))
    builder.mention(others[int(rng.integers(len(others)))])


def _list_caption(builder: _CaptionBuilder, scene: Scene, rng: np.random.Generator) -> None:
    """E.g. "a picture of a red circle, a big square and a gray star"."""
    count = int(rng.integers(1, min(3, len(scene.objects)) + 1))
    picked = rng.choice(len(scene.objects), size=count, replace=False)
    builder.text(_choice(rng, PICTURE_PREFIXES))
    builder.mention_list([scene.objects[i] for i in picked])


def _count_caption(builder: _CaptionBuilder, scene: Scene, rng: np.random.Generator) -> None:
    """E.g. "two objects: a red circle and a blue square", "four shapes, including a star and a small disc"."""
    total = len(scene.objects)
    builder.text(f"{NUMBER_WORDS[total]} {plural(_choice(rng, ('shape', 'object')))}")
    if total <= 3:  # the list after the colon must be complete
        builder.text(":")
        picked = rng.permutation(total)
    else:
        builder.text(",")
        builder.text("including")
        picked = rng.choice(total, size=int(rng.integers(2, 4)), replace=False)
    builder.mention_list([scene.objects[i] for i in picked])


_Template = Callable[[_CaptionBuilder, Scene, np.random.Generator], None]
# Relations are the most frequent: they make captions depend on where things are, not only on what is there.
_TEMPLATES: tuple[tuple[_Template, float], ...] = (
    (_relation_caption, 0.45),
    (_relation_and_third_caption, 0.15),
    (_list_caption, 0.25),
    (_count_caption, 0.15),
)


def generate_captions(scene: Scene, rng: np.random.Generator, first_caption_id: int) -> list[Caption]:
    """Writes `CAPTIONS_PER_IMAGE` distinct captions of a scene.

    Args:
        scene: the image's content.
        rng: the generator for this image's captions only.
        first_caption_id: the COCO caption annotation id of the first caption; the others follow consecutively.

    Returns:
        The captions, with distinct token sequences (ignoring a final full stop).

    Raises:
        RuntimeError: if `MAX_ATTEMPTS` draws give fewer distinct captions (never seen; it would be a bug).
    """
    weights = np.array([weight for _, weight in _TEMPLATES])
    captions: list[Caption] = []
    seen: set[tuple[str, ...]] = set()
    for _ in range(MAX_ATTEMPTS):
        template = _TEMPLATES[int(rng.choice(len(_TEMPLATES), p=weights / weights.sum()))][0]
        if template is _relation_and_third_caption and len(scene.objects) < 3:
            template = _relation_caption
        builder = _CaptionBuilder(rng)
        template(builder, scene, rng)
        caption = builder.build(first_caption_id + len(captions))
        key = tuple(token for token in caption.tokens if token != ".")
        if key not in seen:
            seen.add(key)
            captions.append(caption)
            if len(captions) == CAPTIONS_PER_IMAGE:
                return captions
    raise RuntimeError(f"only {len(captions)} distinct captions for image {scene.image_id}")
