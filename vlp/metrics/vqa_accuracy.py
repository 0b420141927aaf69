"""The official VQA accuracy of one predicted answer against a question's human answers.

An answer counts as right when at least three humans gave it: `min(1, matches / 3)`. To make the score comparable with
a human's, the official evaluation averages that over the ten ways of leaving one human answer out. With m of the ten
answers matching, leaving out a matching answer leaves m - 1 matches and leaving out another leaves m, so the score is
`(m * min(1, (m - 1) / 3) + (10 - m) * min(1, m / 3)) / 10`: 0, 0.3, 0.6, 0.9 and 1 for m = 0, 1, 2, 3 and 4 or more.

Before comparing, answers are normalised (`vlp.metrics.vqa_normalize`), but only partly when the ten human answers
are all identical (after whitespace cleaning): then neither they nor the prediction are normalised further, so a
prediction "Yes" scores 0 against ten "yes". The official evaluation has this rule, so scores here keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from vlp.metrics.vqa_normalize import clean_whitespace, process_digit_article, process_punctuation

# A prediction is right when this many humans gave it (in the leave-one-out subsets).
HUMANS_FOR_FULL_SCORE = 3


# Human answers repeat a lot ("yes", "2", "white"), so caching the processing makes the evaluation several times faster.
@lru_cache(maxsize=1 << 16)
def _processed(answer: str) -> str:
    return process_digit_article(process_punctuation(answer))


def official_answers(prediction: str, human_answers: Sequence[str]) -> tuple[str, list[str]]:
    """The prediction and the human answers in the form the official evaluation compares them.

    Whitespace is cleaned in all of them; when the cleaned human answers are not all identical, all of them and the
    prediction also go through punctuation and digit/article processing.

    Args:
        prediction: the predicted answer, as written in the results file.
        human_answers: the human answers of the question, as in the annotations file.

    Returns:
        The processed prediction and processed human answers, in the given order.
    """
    prediction = clean_whitespace(prediction)
    answers = [clean_whitespace(answer) for answer in human_answers]
    if len(set(answers)) > 1:
        prediction = _processed(prediction)
        answers = [_processed(answer) for answer in answers]
    return prediction, answers


def leave_one_out_accuracy(prediction: str, answers: Sequence[str], left_out: Sequence[int] | None = None) -> float:
    """`min(1, matches / 3)` averaged over the subsets that leave one answer out; strings compared as they are.

    Args:
        prediction: the answer to score, already processed like `answers`.
        answers: the human answers (usually ten), already processed.
        left_out: how many answers leaving out answer i removes, itself included; 1 for every answer by default. The
            official code drops every answer *record* equal to the one left out, so records that are identical in all
            their fields (answer, confidence, id) leave together; `vlp.eval.vqa` passes that count.

    Returns:
        The accuracy in [0, 1].

    Raises:
        ValueError: if `answers` is empty.
    """
    if not answers:
        raise ValueError("a question needs at least one human answer to be scored")
    matches = sum(answer == prediction for answer in answers)
    total = 0.0
    for i, answer in enumerate(answers):
        remaining = matches - (1 if left_out is None else left_out[i]) if answer == prediction else matches
        total += min(1.0, remaining / HUMANS_FOR_FULL_SCORE)
    return total / len(answers)


def vqa_accuracy(prediction: str, human_answers: Sequence[str]) -> float:
    """The official accuracy of one predicted answer, in [0, 1].

    Args:
        prediction: the predicted answer.
        human_answers: the question's human answers, as in the annotations file (usually ten).

    Returns:
        0, 0.3, 0.6, 0.9 or 1 for ten answers, of which 0, 1, 2, 3, or 4 or more match the prediction.
    """
    return leave_one_out_accuracy(*official_answers(prediction, human_answers))
