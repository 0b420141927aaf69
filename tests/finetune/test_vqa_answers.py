"""Soft target scores worked by hand for both schemes, and the answer vocabulary's minimum count."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from finetune.vqa.answers import AnswerVocabulary, SoftTarget, answer_log_odds, answer_scores

TEN = ["cat"] + ["dog"] * 2 + ["bird"] * 3 + ["fish"] * 4


@pytest.mark.parametrize("scoring", ["leave_one_out", "table"])
def test_ten_answers_score_the_same_both_ways(scoring: str) -> None:
    # Leave-one-out for 1, 2, 3, 4 of 10 is 9/3/10, (2/3 + 16/3)/10, (2 + 7)/10, 1; the table says 0.3, 0.6, 0.9, 1.
    assert answer_scores(TEN, scoring) == pytest.approx({"cat": 0.3, "dog": 0.6, "bird": 0.9, "fish": 1.0})


def test_fewer_answers_differ() -> None:
    three = ["dog", "cat", "dog"]
    # dog: dropping either dog leaves 1 (1/3), dropping the cat leaves 2 (2/3): 4/9. cat: dropping a dog leaves 1
    # (1/3, twice), dropping itself leaves 0: 2/9.
    assert answer_scores(three, "leave_one_out") == pytest.approx({"dog": 4 / 9, "cat": 2 / 9})
    assert answer_scores(three, "table") == pytest.approx({"dog": 0.6, "cat": 0.3})
    # One answer (Visual Genome QA): leaving it out leaves nothing, so no positive score.
    assert answer_scores(["dog"], "leave_one_out") == {}
    assert answer_scores(["dog"], "table") == {"dog": 0.3}


def test_answers_are_normalised_before_counting() -> None:
    # "2", "Two", "two." and "the two" are four votes for "2" (score 1), not one each.
    assert answer_scores(["2", "Two", "two.", "the two", "3", "3"], "table") == {"2": 1.0, "3": 0.6}


def test_unknown_scoring_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown target scoring 'soft'"):
        answer_scores(TEN, "soft")  # type: ignore[arg-type]


def test_vocabulary_keeps_answers_given_at_least_min_count_times() -> None:
    answers = ["yes"] * 5 + ["Yes."] * 4 + ["no"] * 9 + ["2"] * 3 + ["two"] * 5 + ["red"] * 8
    # yes: 9 (merged), no: 9, 2: 8, red: 8.
    assert AnswerVocabulary.build(answers, min_count=9).answers == ("no", "yes")
    assert AnswerVocabulary.build(answers, min_count=8).answers == ("no", "yes", "2", "red")
    assert len(AnswerVocabulary.build(answers, min_count=1)) == 4


def test_target_over_the_vocabulary(tmp_path: Path) -> None:
    vocabulary = AnswerVocabulary(("fish", "bird", "cat", "horse"))
    assert vocabulary.target(TEN, "table") == SoftTarget(indices=(0, 1, 2), scores=(1.0, 0.9, 0.3))  # no "dog"
    assert vocabulary.target(["zebra"] * 10, "table") == SoftTarget((), ())
    vocabulary.save(tmp_path / "answers.json")
    assert AnswerVocabulary.load(tmp_path / "answers.json") == vocabulary
    with pytest.raises(ValueError, match="repeat"):
        AnswerVocabulary(("fish", "fish"))


def test_answer_log_odds_of_mean_scores() -> None:
    targets = [SoftTarget((0, 2), (1.0, 0.3)), None, SoftTarget((0,), (0.6,)), SoftTarget((), ())]
    # Three questions have a target (the None is skipped): class 0 scores 1.6 / 3, class 2 scores 0.3 / 3, classes 1
    # and 3 nothing, so they sit at the floor.
    expected = [math.log((1.6 / 3) / (1.4 / 3)), math.log(1e-4 / (1 - 1e-4)), math.log(0.1 / 0.9)]
    assert answer_log_odds(targets, 4) == pytest.approx([*expected, expected[1]])
    with pytest.raises(ValueError, match="no training question has a soft target"):
        answer_log_odds([None], 4)
