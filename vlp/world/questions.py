"""Questions about a scene, VQA v2 style, with their right answers and ten human answers each.

Kinds asked of every image (when the scene allows): the colour of an object, its shape, a count, existence, a spatial
relation, and size. An object is referred to by "the <description>" only when the description fits exactly one object.

Yes/no questions come in pairs, one whose answer is yes and one whose answer is no, drawn by the same procedure, so
yes/no answers are balanced exactly over the dataset and the question text alone does not give the answer away.
Question order within an image is shuffled so that the position of a question says nothing either.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from vlp.world.answers import HumanAnswer, human_answers
from vlp.world.scene import Scene, SceneObject, relations
from vlp.world.vocabulary import (
    COLOURS,
    DIRECTIONAL_RELATIONS,
    INVERSE,
    NEXT_TO,
    RELATION_WORDS,
    SHAPES,
    SIZES,
    article,
    plural,
)

# A description is a set of attributes, written in this order: "small red circle". Without the shape, the noun is
# "object" ("the small red object"); a description names at least one attribute.
ATTRIBUTES = ("size", "colour", "shape")
VALUES: dict[str, tuple[str, ...]] = {"size": SIZES, "colour": tuple(COLOURS), "shape": SHAPES}
Description = tuple[str, ...]
ALL_DESCRIPTIONS: tuple[Description, ...] = (
    ("shape",),
    ("colour",),
    ("size",),
    ("colour", "shape"),
    ("size", "shape"),
    ("size", "colour"),
    ("size", "colour", "shape"),
)
# Existence never asks by size alone: "is there a small object?" would too often have no possible "no" counterpart.
EXISTENCE_DESCRIPTIONS: tuple[Description, ...] = tuple(d for d in ALL_DESCRIPTIONS if d != ("size",))
COUNT_DESCRIPTIONS: tuple[Description, ...] = ((), ("shape",), ("colour",), ("size",), ("colour", "shape"))
# Chance that a count asks about something the image holds (the rest ask about random values, often absent).
P_COUNT_PRESENT = 0.75
# Chance that the relation pair is about "next to" rather than a direction, when the scene has both kinds of pairs.
P_NEXT_TO = 0.25
# Questions take the canonical relation phrase; captions use the synonyms.
RELATION_PHRASE = {relation: words[0] for relation, words in RELATION_WORDS.items()}

_Values = dict[str, str]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Question:
    """A question about one image.

    Attributes:
        question_id: VQA-style id, the image id times 1000 plus the question's index.
        text: the question, e.g. "what color is the small star?".
        question_type: the official-style prefix of `text`, e.g. "what color is the", "how many", "is there a".
        answer: the right answer (also the `multiple_choice_answer`).
        answer_type: "yes/no", "number" or "other".
        answers: the ten human answers.
    """

    question_id: int
    text: str
    question_type: str
    answer: str
    answer_type: str
    answers: tuple[HumanAnswer, ...]


@dataclass(frozen=True)
class _Draft:
    """A question before it gets its id and human answers."""

    text: str
    question_type: str
    answer: str
    answer_type: str


def _choice(rng: np.random.Generator, options: Sequence[_T]) -> _T:
    return options[int(rng.integers(len(options)))]


def _values(obj: SceneObject, description: Description) -> _Values:
    return {attribute: getattr(obj, attribute) for attribute in description}


def _matching(scene: Scene, values: _Values) -> list[SceneObject]:
    return [obj for obj in scene.objects if all(getattr(obj, a) == v for a, v in values.items())]


def _words(values: _Values, plural_noun: bool = False) -> str:
    """ "small red circle", "red object", or with `plural_noun` "small red circles", "objects"."""
    noun = values.get("shape", "object")
    adjectives = [values[a] for a in ATTRIBUTES[:2] if a in values]
    return " ".join([*adjectives, plural(noun) if plural_noun else noun])


def _unique_descriptions(scene: Scene, obj: SceneObject, candidates: Sequence[Description]) -> list[Description]:
    """The candidate descriptions that fit `obj` and no other object of the scene."""
    return [d for d in candidates if len(_matching(scene, _values(obj, d))) == 1]


def _referable(scene: Scene, candidates: Sequence[Description]) -> list[tuple[SceneObject, list[Description]]]:
    """Objects that some candidate description singles out, each with those descriptions."""
    found = [(obj, _unique_descriptions(scene, obj, candidates)) for obj in scene.objects]
    return [(obj, descriptions) for obj, descriptions in found if descriptions]


def _describe(rng: np.random.Generator, referable: tuple[SceneObject, list[Description]]) -> str:
    """Words that single the object out ("small red circle"), in one of its uniquely fitting descriptions."""
    obj, descriptions = referable
    return _words(_values(obj, _choice(rng, descriptions)))


def _absent_values(scene: Scene, description: Description, rng: np.random.Generator) -> _Values:
    """Attribute values of the given description that no object of the scene has (there always are some)."""
    combinations = itertools.product(*(VALUES[a] for a in description))
    absent = [
        values
        for values in (dict(zip(description, c, strict=True)) for c in combinations)
        if not _matching(scene, values)
    ]
    return _choice(rng, absent)


def _attribute_question(scene: Scene, rng: np.random.Generator, asked: str) -> list[_Draft]:
    """ "what color is the small star?" or "what shape is the red object?"; [] when no object can be singled out."""
    referable = _referable(scene, [d for d in ALL_DESCRIPTIONS if asked not in d])
    if not referable:
        return []
    target = _choice(rng, referable)
    prefix = "what color is the" if asked == "colour" else "what shape is the"
    return [_Draft(f"{prefix} {_describe(rng, target)}?", prefix, getattr(target[0], asked), "other")]


def _count_question(scene: Scene, rng: np.random.Generator) -> list[_Draft]:
    """ "how many red circles are there?"."""
    description = _choice(rng, COUNT_DESCRIPTIONS)
    if rng.random() < P_COUNT_PRESENT:
        values = _values(_choice(rng, scene.objects), description)
    else:
        values = {attribute: _choice(rng, VALUES[attribute]) for attribute in description}
    ending = _choice(rng, ("are there", "are in the picture", "can you see"))
    count = len(_matching(scene, values))
    return [_Draft(f"how many {_words(values, plural_noun=True)} {ending}?", "how many", str(count), "number")]


def _existence_question(values: _Values, answer: str, rng: np.random.Generator) -> _Draft:
    """ "is there a red circle?" or "are there any red circles?"."""
    if rng.random() < 0.5:
        words = _words(values)
        return _Draft(f"is there {article(words)} {words}?", "is there a", answer, "yes/no")
    return _Draft(f"are there any {_words(values, plural_noun=True)}?", "are there any", answer, "yes/no")


def _existence_pair(scene: Scene, rng: np.random.Generator) -> list[_Draft]:
    """An existence question about something the image holds, and one about something it lacks."""
    description = _choice(rng, EXISTENCE_DESCRIPTIONS)
    present = _values(_choice(rng, scene.objects), description)
    absent = _absent_values(scene, description, rng)
    return [_existence_question(present, "yes", rng), _existence_question(absent, "no", rng)]


def _relation_pair(scene: Scene, rng: np.random.Generator) -> list[_Draft]:
    """ "is the red circle to the left of the blue square?", once true and once false; [] if nothing is referable."""
    pairs = list(itertools.permutations(_referable(scene, ALL_DESCRIPTIONS), 2))
    if not pairs:
        return []
    near = [pair for pair in pairs if NEXT_TO in relations(pair[0][0], pair[1][0], scene.width)]
    far = [pair for pair in pairs if NEXT_TO not in relations(pair[0][0], pair[1][0], scene.width)]
    if near and far and rng.random() < P_NEXT_TO:
        asked = [(_choice(rng, near), NEXT_TO, "yes"), (_choice(rng, far), NEXT_TO, "no")]
    else:
        # Every pair has a direction that holds, and its inverse is then false. The two questions draw their pairs
        # independently, so that they are not always about the same two objects.
        asked = []
        for answer in ("yes", "no"):
            pair = _choice(rng, pairs)
            holding = [r for r in relations(pair[0][0], pair[1][0], scene.width) if r in DIRECTIONAL_RELATIONS]
            relation = _choice(rng, holding)
            asked.append((pair, relation if answer == "yes" else INVERSE[relation], answer))
    drafts = []
    for (subject, obj), relation, answer in asked:
        text = f"is the {_describe(rng, subject)} {RELATION_PHRASE[relation]} the {_describe(rng, obj)}?"
        drafts.append(_Draft(text, "is the", answer, "yes/no"))
    return drafts


def _size_pair(scene: Scene, rng: np.random.Generator) -> list[_Draft]:
    """ "is the red circle small?", once true and once false; [] if no object can be singled out without its size."""
    referable = _referable(scene, [d for d in ALL_DESCRIPTIONS if "size" not in d])
    if not referable:
        return []
    drafts = []
    for answer in ("yes", "no"):
        target = _choice(rng, referable)
        size = target[0].size if answer == "yes" else next(s for s in SIZES if s != target[0].size)
        drafts.append(_Draft(f"is the {_describe(rng, target)} {size}?", "is the", answer, "yes/no"))
    return drafts


def generate_questions(scene: Scene, rng: np.random.Generator) -> list[Question]:
    """Asks the questions of one image and simulates their human answers.

    Args:
        scene: the image's content.
        rng: the generator for this image's questions only.

    Returns:
        Up to nine questions (fewer when no object can be singled out for a kind), in random order, with ids
        `image_id * 1000 + index`.
    """
    drafts = [
        *_attribute_question(scene, rng, "colour"),
        *_attribute_question(scene, rng, "shape"),
        *_count_question(scene, rng),
        *_existence_pair(scene, rng),
        *_relation_pair(scene, rng),
        *_size_pair(scene, rng),
    ]
    questions = []
    for index, i in enumerate(rng.permutation(len(drafts))):
        draft = drafts[i]
        answers = human_answers(draft.answer, draft.answer_type, rng)
        questions.append(
            Question(
                scene.image_id * 1000 + index, draft.text, draft.question_type, draft.answer, draft.answer_type, answers
            )
        )
    return questions
