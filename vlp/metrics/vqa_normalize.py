"""The answer normalisation of the official VQA evaluation, as pure functions.

The official evaluation (GT-Vision-Lab/VQA, `vqaEval.py`) compares a predicted answer with the human answers after
these steps, in this order:

1. `clean_whitespace`: newlines and tabs become spaces, and surrounding whitespace goes. Always applied.
2. `process_punctuation`: punctuation marks are deleted or turned into spaces, and periods are dropped.
3. `process_digit_article`: lowercase; number words zero to ten (and "none") become digits; articles go; a few
   contractions written without their apostrophe get it back.

Steps 2 and 3 are applied only to questions whose human answers are not all identical (`vlp.metrics.vqa_accuracy`).
Training targets apply all three steps to every answer (`normalize_answer`), as BUTD and Oscar do.

The rules follow the official code as it runs under Python 3, oddities included; each is noted where it is implemented.
"""

from __future__ import annotations

import re

# Marks that `process_punctuation` deletes or turns into spaces. Absent on purpose, as in the official list: the
# apostrophe (contractions keep it), the period (its own rule), and : * # $ % & ~ ^ | (kept as they are).
PUNCTUATION = ';/[]"{}()=+\\_-><@`,?!'
# With a digit-comma-digit anywhere ("1,000"), every mark is deleted rather than spaced, so that numbers stay whole.
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
# A period not followed by a digit: "a.m." loses its periods, "1.5" keeps its one. The official pattern also has
# `(?!<=\d)` in front, meant as a look-behind but written as a look-ahead that can never match before a period.
_PERIOD = re.compile(r"\.(?!\d)")
# The official code passes `re.UNICODE` (32) where `re.sub` takes its count, so only the first 32 such periods go.
MAX_PERIODS_REMOVED = 32

NUMBER_WORDS: dict[str, str] = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})

# Contracted forms the official table restores. Each is recognised written with exactly one of its apostrophes left
# out ("dont" -> "don't"; "couldnt've" and "couldn'tve" -> "couldn't've"; never "couldntve").
CONTRACTED_FORMS = (
    "ain't", "aren't", "can't", "could've", "couldn't", "couldn't've", "didn't", "doesn't", "don't", "hadn't",
    "hadn't've", "hasn't", "haven't", "he'd", "he'd've", "he's", "how'd", "how'll", "how's", "isn't", "it'd", "it'd've",
    "it'll", "ma'am", "mightn't", "mightn't've", "might've", "mustn't", "must've", "needn't", "not've", "o'clock",
    "oughtn't", "'ow's'at", "shan't", "she'd've", "should've", "shouldn't", "shouldn't've", "somebody'd've",
    "somebody'll", "somebody's", "someone'd", "someone'd've", "someone'll", "someone's", "something'd",
    "something'd've", "something'll", "that's", "there'd", "there'd've", "there're", "there's", "they'd", "they'd've",
    "they'll", "they're", "they've", "'twas", "wasn't", "we'd've", "we've", "weren't", "what'll", "what're", "what's",
    "what've", "when's", "where'd", "where's", "where've", "who'd", "who'd've", "who'll", "who's", "who've", "why'll",
    "why're", "why's", "won't", "would've", "wouldn't", "wouldn't've", "y'all", "y'all'll", "y'all'd've", "you'd",
    "you'd've", "you'll", "you're", "you've",
)  # fmt: skip


def _without_one_apostrophe(form: str) -> list[str]:
    """The spellings of `form` that miss exactly one of its apostrophes."""
    return [form[:i] + form[i + 1 :] for i, char in enumerate(form) if char == "'"]


CONTRACTIONS: dict[str, str] = {
    spelling: form for form in CONTRACTED_FORMS for spelling in _without_one_apostrophe(form)
} | {
    # The one entry of the official table that goes the other way. Its entries with a capital ("Im", "Ive", "Id've")
    # are left out: words are lowercased before the lookup, so they never apply.
    "somebody'd": "somebodyd",
}


def clean_whitespace(answer: str) -> str:
    """Turns newlines and tabs into spaces and strips surrounding whitespace (applied to every answer)."""
    return answer.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(answer: str) -> str:
    """Deletes or spaces out the marks of `PUNCTUATION`, then drops periods that no digit follows.

    A mark is deleted when the answer has a space right before or after some occurrence of it ("yes !" -> "yes "), or
    when the answer holds a digit-comma-digit ("1,000.50" -> "1000.50"); otherwise every occurrence of the mark becomes
    a space ("t-shirt" -> "t shirt"). Both tests look at the answer as given, not as earlier marks left it. Spaces are
    not collapsed here; `process_digit_article` splits on whitespace.
    """
    processed = answer
    # Replacing one mark never adds or removes another, so marks absent from the answer can be skipped.
    marks = [mark for mark in PUNCTUATION if mark in answer]
    if marks:
        delete_all = _DIGIT_COMMA_DIGIT.search(answer) is not None
        for mark in marks:
            delete = delete_all or f"{mark} " in answer or f" {mark}" in answer
            processed = processed.replace(mark, "" if delete else " ")
    return _PERIOD.sub("", processed, count=MAX_PERIODS_REMOVED)


def process_digit_article(answer: str) -> str:
    """Lowercases, maps number words to digits, drops articles, restores contractions; words joined by one space.

    Number words are mapped before articles are dropped and contractions looked up, one word at a time: "the two" ->
    "2", "none" -> "0", "dont" -> "don't"; "twenty" and "1st" stay.
    """
    words = [NUMBER_WORDS.get(word, word) for word in answer.lower().split()]
    return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def normalize_answer(answer: str) -> str:
    """All three steps, as for training targets and answer vocabularies: "Two." -> "2", "a T-shirt" -> "t shirt"."""
    return process_digit_article(process_punctuation(clean_whitespace(answer)))
