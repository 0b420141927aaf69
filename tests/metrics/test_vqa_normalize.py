"""The official answer normalisation, rule by rule, with expected values worked out by hand from the rules."""

from __future__ import annotations

import pytest

from vlp.metrics.vqa_normalize import (
    CONTRACTIONS,
    clean_whitespace,
    normalize_answer,
    process_digit_article,
    process_punctuation,
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("\tyes\n", "yes"), ("red\nand\tblue", "red and blue"), ("  2 ", "2"), ("a  b", "a  b")],
)
def test_whitespace_is_cleaned(answer: str, expected: str) -> None:
    assert clean_whitespace(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("t-shirt", "t shirt"),  # no space next to the mark: it becomes a space
        ("what?", "what "),
        ("(left)", " left "),
        ("yes !", "yes "),  # a space next to it: deleted
        ("hot dog, fries", "hot dog fries"),
        ("x-ray - y-ray", "xray  yray"),  # one spaced occurrence deletes every occurrence of that mark
        ("x-ray , y-ray", "x ray  y ray"),  # ... of that mark only
        ("1,000", "1000"),  # digit-comma-digit: every mark is deleted
        ("1,000 t-shirt", "1000 tshirt"),
        ("don't: 1:30", "don't: 1:30"),  # apostrophes and colons are not punctuation here
        ("a.m.", "am"),  # periods go unless a digit follows
        ("3.5", "3.5"),
        ("2.", "2"),
        ("x.5", "x.5"),
        ("." * 40 + "x", "." * 8 + "x"),  # at most 32 periods go
    ],
)
def test_punctuation(answer: str, expected: str) -> None:
    assert process_punctuation(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("two", "2"),
        ("none", "0"),
        ("Zero", "0"),
        ("ten", "10"),
        ("eleven", "eleven"),
        ("Two Dogs", "2 dogs"),
        ("twenty one", "twenty 1"),
    ],
)
def test_digits_written_as_words(answer: str, expected: str) -> None:
    assert process_digit_article(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("a dog", "dog"), ("The Dog", "dog"), ("an apple", "apple"), ("the a an", ""), ("another", "another")],
)
def test_articles(answer: str, expected: str) -> None:
    assert process_digit_article(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("dont", "don't"),
        ("Dont know", "don't know"),
        ("couldnt've", "couldn't've"),  # one apostrophe missing, either one
        ("couldn'tve", "couldn't've"),
        ("couldntve", "couldntve"),  # both missing: not in the table
        ("yall", "y'all"),
        ("twas", "'twas"),
        ("somebody'd", "somebodyd"),  # the official table's reversed entry
        ("Im", "im"),  # capitalised entries never apply: words are lowercased first
        ("lets", "lets"),
    ],
)
def test_contractions(answer: str, expected: str) -> None:
    assert process_digit_article(answer) == expected


def test_contraction_table_has_the_official_entries_that_can_apply() -> None:
    # The official table has 120 entries: 4 capitalised ones never apply, and "let's" and "she's" map to themselves.
    assert len(CONTRACTIONS) == 120 - 4 - 2
    assert all(spelling == spelling.lower() and spelling != form for spelling, form in CONTRACTIONS.items())


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("  The Two-Dogs! ", "2 dogs"),
        ("Yes.", "yes"),
        ("none.", "0"),
        ("a T-shirt", "t shirt"),
        ("1,000 dollars", "1000 dollars"),
    ],
)
def test_all_steps(answer: str, expected: str) -> None:
    assert normalize_answer(answer) == expected
