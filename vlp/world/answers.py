"""Ten simulated human answers per question, disagreeing the way VQA v2 annotators do.

Most annotators give the right answer; some write a variant of it ("2" / "two", "gray" / "grey", "yes" / "yeah"),
which the official answer normalisation may or may not merge; a few are wrong. A share of questions get ten identical
answers. The right answer always keeps at least six of the ten, so it is the `multiple_choice_answer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlp.world.scene import MAX_OBJECTS
from vlp.world.vocabulary import COLOURS, NUMBER_WORDS, SHAPES

ANSWERS_PER_QUESTION = 10
# Chance that all ten agree, per answer type: counting is where real annotators disagree most.
P_UNANIMOUS: dict[str, float] = {"yes/no": 0.5, "other": 0.4, "number": 0.3}
# How many of the ten deviate when they do not all agree; at most four keeps the right answer the clear majority.
DEVIATING_COUNTS = (1, 2, 3, 4)
DEVIATING_WEIGHTS = (0.45, 0.3, 0.17, 0.08)
# A deviating answer is a variant of the right one with this chance (when it has variants), else a wrong answer.
P_VARIANT = 0.6
CONFIDENCES = ("yes", "maybe", "no")
# answer_confidence weights for a right answer, a variant and a wrong answer.
CONFIDENCE_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "right": (0.85, 0.12, 0.03),
    "variant": (0.7, 0.25, 0.05),
    "wrong": (0.2, 0.5, 0.3),
}
# Cumulative weights, to draw from them with one uniform number (much cheaper than Generator.choice per answer).
_DEVIATING_CDF = np.cumsum(DEVIATING_WEIGHTS)[:-1]
_CONFIDENCE_CDF = {kind: np.cumsum(weights)[:-1] for kind, weights in CONFIDENCE_WEIGHTS.items()}

VARIANTS: dict[str, tuple[str, ...]] = {
    "yes": ("yeah", "yep"),
    "no": ("nope",),
    "0": ("zero", "none"),
    "gray": ("grey",),
    "purple": ("violet",),
    "circle": ("round", "disc"),
    "square": ("box",),
    "triangle": ("triangular",),
    "diamond": ("rhombus",),
    "hexagon": ("hexagonal",),
    "cross": ("plus", "plus sign"),
} | {str(n): (NUMBER_WORDS[n],) for n in range(1, MAX_OBJECTS + 1)}


@dataclass(frozen=True)
class HumanAnswer:
    """One annotator's answer and how sure they said they were ("yes", "maybe" or "no")."""

    answer: str
    confidence: str


def _wrong_answers(answer: str, answer_type: str) -> tuple[str, ...]:
    """Plausible wrong answers: the other of yes/no, a count off by one, another colour or shape."""
    if answer_type == "yes/no":
        return ("no",) if answer == "yes" else ("yes",)
    if answer_type == "number":
        return tuple(str(n) for n in (int(answer) - 1, int(answer) + 1) if 0 <= n <= MAX_OBJECTS)
    pool = tuple(COLOURS) if answer in COLOURS else SHAPES
    return tuple(other for other in pool if other != answer)


def human_answers(answer: str, answer_type: str, rng: np.random.Generator) -> tuple[HumanAnswer, ...]:
    """Simulates the ten annotators of one question.

    Args:
        answer: the right answer, in canonical form (a colour or shape name, a digit, "yes" or "no").
        answer_type: "yes/no", "number" or "other".
        rng: the generator for this image's questions.

    Returns:
        Ten answers in random order; `answer` is among them at least six times.
    """
    deviating = 0
    if rng.random() >= P_UNANIMOUS[answer_type]:
        deviating = DEVIATING_COUNTS[int(np.searchsorted(_DEVIATING_CDF, rng.random(), side="right"))]
    given: list[tuple[str, str]] = [(answer, "right")] * (ANSWERS_PER_QUESTION - deviating)
    variants, wrong = VARIANTS.get(answer, ()), _wrong_answers(answer, answer_type)
    for _ in range(deviating):
        if variants and rng.random() < P_VARIANT:
            given.append((variants[int(rng.integers(len(variants)))], "variant"))
        else:
            given.append((wrong[int(rng.integers(len(wrong)))], "wrong"))
    order, draws = rng.permutation(ANSWERS_PER_QUESTION), rng.random(ANSWERS_PER_QUESTION)
    answers = []
    for i, draw in zip(order, draws, strict=True):
        text, kind = given[i]
        confidence = CONFIDENCES[int(np.searchsorted(_CONFIDENCE_CDF[kind], draw, side="right"))]
        answers.append(HumanAnswer(text, confidence))
    return tuple(answers)
