"""The answer vocabulary of VQA finetuning and the soft target score of each candidate answer.

Answers are normalised with the official rules (`vlp.metrics.vqa_normalize.normalize_answer`), so "Two", "2" and
"two." are one class. Scores for a question with its human answers, per candidate answer given by c of the n humans:

- `"leave_one_out"`: the official accuracy the candidate would get, `min(1, matches / 3)` averaged over the n subsets
  that leave one human answer out.
- `"table"`: BUTD's table by count, 0, 0.3, 0.6, 0.9 for c = 0 to 3 and 1 for c >= 4.

For the ten answers of VQA v2 both give the same scores (up to float rounding); they differ where a question has fewer
answers (Visual Genome QA has one): a single answer scores 0 by leave-one-out but 0.3 by the table.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vlp.metrics.vqa_accuracy import leave_one_out_accuracy
from vlp.metrics.vqa_normalize import normalize_answer

TargetScoring = Literal["leave_one_out", "table"]
# BUTD's score by how many humans gave the answer; four or more score 1.
SCORE_TABLE = (0.0, 0.3, 0.6, 0.9, 1.0)
# The usual minimum count: counting the multiple-choice answers of VQA v2 train+val gives the 3,129 answers of BUTD.
DEFAULT_MIN_COUNT = 9


def answer_scores(human_answers: Sequence[str], scoring: TargetScoring) -> dict[str, float]:
    """The positive target score of every answer the humans gave, by normalised answer.

    Args:
        human_answers: the question's human answers as in the annotations file.
        scoring: "leave_one_out" or "table" (see the module's docstring).

    Returns:
        Normalised answer -> score in (0, 1], in order of first appearance.

    Raises:
        ValueError: for an unknown `scoring`.
    """
    answers = [normalize_answer(answer) for answer in human_answers]
    counts = Counter(answers)
    if scoring == "table":
        scores = {answer: SCORE_TABLE[min(count, len(SCORE_TABLE) - 1)] for answer, count in counts.items()}
    elif scoring == "leave_one_out":
        scores = {answer: leave_one_out_accuracy(answer, answers) for answer in counts}
    else:
        raise ValueError(f"unknown target scoring {scoring!r}: expected 'leave_one_out' or 'table'")
    return {answer: score for answer, score in scores.items() if score > 0}


@dataclass(frozen=True)
class SoftTarget:
    """The target of one question over the answer vocabulary: the classes with a positive score.

    Attributes:
        indices: [K] vocabulary indices, ascending (K may be 0 when no human answer is in the vocabulary).
        scores: [K] their scores in (0, 1].
    """

    indices: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class AnswerVocabulary:
    """The answers a VQA model chooses among, normalised; a class index is a position in `answers`.

    Attributes:
        answers: the normalised answers, most frequent first (ties by name), without repeats.
    """

    answers: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {answer: i for i, answer in enumerate(self.answers)})
        if len(self._index) != len(self.answers):
            raise ValueError("an answer vocabulary cannot repeat an answer")

    @classmethod
    def build(cls, answers: Iterable[str], min_count: int = DEFAULT_MIN_COUNT) -> AnswerVocabulary:
        """The normalised answers given at least `min_count` times.

        Args:
            answers: one answer per training question (BUTD and Oscar count the `multiple_choice_answer`).
            min_count: how often an answer must occur to be a class.
        """
        counts = Counter(normalize_answer(answer) for answer in answers)
        frequent = [answer for answer, count in counts.items() if count >= min_count]
        return cls(tuple(sorted(frequent, key=lambda answer: (-counts[answer], answer))))

    def __len__(self) -> int:
        return len(self.answers)

    def target(self, human_answers: Sequence[str], scoring: TargetScoring) -> SoftTarget:
        """The soft target of a question from its human answers; answers outside the vocabulary are dropped."""
        scored = sorted(
            (self._index[answer], score)
            for answer, score in answer_scores(human_answers, scoring).items()
            if answer in self._index
        )
        return SoftTarget(tuple(i for i, _ in scored), tuple(score for _, score in scored))

    def save(self, path: Path) -> None:
        """Writes the answers as a json list; a class index is a position in it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(list(self.answers), indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AnswerVocabulary:
        """Reads a vocabulary written by `save`."""
        answers = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
            raise ValueError(f"{path} is not an answer vocabulary: expected a json list of answers")
        return cls(tuple(answers))


def answer_log_odds(targets: Iterable[SoftTarget | None], num_classes: int, floor: float = 1e-4) -> list[float]:
    """The log-odds `log(p / (1 - p))` of each answer's mean soft target score p over the questions with a target.

    A classifier whose output bias starts here predicts the training answers' base rates from its first step, instead
    of 0.5 for every answer: with BCE summed over thousands of answers, that start costs C * log 2 (2,169 nats on
    VQA v2) and its first updates mostly push every logit down, through the pretrained body too.

    Args:
        targets: the soft targets of the training questions (None for a question without one, which is skipped).
        num_classes: C, the answer vocabulary's size.
        floor: p is clipped to [floor, 1 - floor], so that an answer no question scores gets a finite bias.

    Returns:
        [C] log-odds, by class index.

    Raises:
        ValueError: when no question has a target.
    """
    totals, count = [0.0] * num_classes, 0
    for target in targets:
        if target is None:
            continue
        count += 1
        for index, score in zip(target.indices, target.scores, strict=True):
            totals[index] += score
    if count == 0:
        raise ValueError("no training question has a soft target: the answer priors need annotated questions")
    means = (min(max(total / count, floor), 1.0 - floor) for total in totals)
    return [math.log(p / (1.0 - p)) for p in means]
