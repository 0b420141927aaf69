"""The official per-question accuracy: leave-one-out averaging and the all-identical rule, worked by hand."""

from __future__ import annotations

import pytest

from vlp.metrics.vqa_accuracy import leave_one_out_accuracy, official_answers, vqa_accuracy


@pytest.mark.parametrize(
    ("matches", "expected"),
    [
        (0, 0.0),
        # One match: the 9 subsets that keep it have 1 match (1/3), the one that drops it has none. (9 * 1/3) / 10.
        (1, 0.3),
        # Two: 2 subsets drop a match and keep 1 (1/3), 8 keep both (2/3). (2/3 + 16/3) / 10.
        (2, 0.6),
        # Three: 3 subsets keep 2 (2/3), 7 keep 3 (1). (2 + 7) / 10.
        (3, 0.9),
        # Four: every subset keeps at least 3.
        (4, 1.0),
        (10, 1.0),
    ],
)
def test_leave_one_out_of_ten(matches: int, expected: float) -> None:
    answers = ["cat"] * matches + ["dog"] * (10 - matches)
    assert leave_one_out_accuracy("cat", answers) == pytest.approx(expected)


def test_leave_one_out_of_three() -> None:
    # "dog" twice in three: dropping a dog leaves 1 (1/3), dropping the cat leaves 2 (2/3). (1/3 + 1/3 + 2/3) / 3.
    assert leave_one_out_accuracy("dog", ["dog", "cat", "dog"]) == pytest.approx(4 / 9)


def test_records_that_leave_together() -> None:
    # Ten identical records: leaving one out drops all ten, so no subset has a match.
    assert leave_one_out_accuracy("yes", ["yes"] * 10, left_out=[10] * 10) == 0
    # Two identical "yes" records among four "yes": dropping one of the pair leaves 2 matches (2/3); the other two
    # "yes" leave 3 (1); the six others leave 4 (1). (2 * 2/3 + 8) / 10.
    left_out = [2, 2, 1, 1] + [1] * 6
    expected = (2 * 2 / 3 + 8) / 10
    assert leave_one_out_accuracy("yes", ["yes"] * 4 + ["no"] * 6, left_out) == pytest.approx(expected)


def test_no_answers_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one human answer"):
        leave_one_out_accuracy("yes", [])


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        # All ten identical: no normalisation of either side, only whitespace.
        ("Yes", ["yes"] * 10, 0.0),
        ("yes.", ["yes"] * 10, 0.0),
        ("two", ["2"] * 10, 0.0),
        ("t shirt", ["t-shirt"] * 10, 0.0),
        ("yes ", ["yes"] * 10, 1.0),
        ("\tyes", [" yes"] * 10, 1.0),  # whitespace is cleaned before the identical test
        # Not all identical: both sides normalised, and the same predictions score.
        ("Yes", ["yes"] * 9 + ["no"], 1.0),
        ("yes.", ["yes"] * 9 + ["no"], 1.0),
        ("two", ["2"] * 9 + ["3"], 1.0),
        ("t shirt", ["t-shirt"] * 4 + ["shirt"] * 6, 1.0),
        # Normalisation merges variants of the human answers: "2", "two", "Two." are three matches, not one.
        ("2", ["2", "two", "Two.", "3", "3", "3", "3", "3", "3", "3"], 0.9),
        ("a dog", ["dog", "the dog", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat"], 0.6),
        ("dont know", ["don't know"] + ["no"] * 9, 0.3),
    ],
)
def test_vqa_accuracy(prediction: str, answers: list[str], expected: float) -> None:
    assert vqa_accuracy(prediction, answers) == pytest.approx(expected)


def test_official_answers_processes_both_sides_only_when_answers_differ() -> None:
    assert official_answers(" Two ", ["Two", "Two "]) == ("Two", ["Two", "Two"])
    assert official_answers(" Two ", ["Two", "three"]) == ("2", ["2", "3"])
