"""Reading and writing the official VQA v2 files, with errors that name the file, the entry and the question id.

- questions (`v2_OpenEnded_mscoco_<split>_questions.json`): `{"questions": [{"question_id", "image_id", "question"}]}`
- annotations (`v2_mscoco_<split>_annotations.json`): `{"annotations": [{"question_id", "image_id", "question_type",
  "answer_type", "multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"}]}]}`
- results, what the evaluation server takes: `[{"question_id", "answer"}]`

Other fields are allowed and ignored. Visual Genome QA converted to the same layout reads the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlp.eval.json_files import FormatError, entries, field, load_json, quote_ids

VQAFormatError = FormatError
"""A VQA file that is not in the official format, or files that do not belong together (the evaluations share one
error type, since they share the readers that raise it)."""


@dataclass(frozen=True)
class VQAQuestion:
    """One entry of a questions file."""

    question_id: int
    image_id: int
    question: str


@dataclass(frozen=True)
class VQAAnnotation:
    """One entry of an annotations file.

    Attributes:
        question_id: the question it answers.
        image_id: the image asked about.
        question_type: the official question type, e.g. "what color is the".
        answer_type: "yes/no", "number" or "other" in VQA v2.
        multiple_choice_answer: the most frequent human answer, where the file gives it.
        answer_records: the human answer objects as in the file (usually ten). The official evaluation compares whole
            records when it leaves one out (see `vlp.metrics.vqa_accuracy.leave_one_out_accuracy`).
    """

    question_id: int
    image_id: int
    question_type: str
    answer_type: str
    multiple_choice_answer: str | None
    answer_records: tuple[dict[str, Any], ...]

    @property
    def answers(self) -> tuple[str, ...]:
        """The human answers' text."""
        return tuple(record["answer"] for record in self.answer_records)


def _question_id(path: Path, key: str, index: int, entry: dict[str, Any]) -> tuple[int, str]:
    """The entry's question id, and how to name the entry in messages: `annotations[3] (question_id 42)`."""
    question_id = field(path, f"{key}[{index}]", entry, "question_id", int)
    return question_id, f"{key}[{index}] (question_id {question_id})"


def _check_new(path: Path, seen: dict[int, Any], question_id: int, where: str) -> None:
    if question_id in seen:
        raise VQAFormatError(f"{path}: {where} repeats a question id given earlier in the file")


def read_questions(path: Path) -> dict[int, VQAQuestion]:
    """A questions file (train, val, test-dev, test-std, or Visual Genome QA), by question id in file order.

    Raises:
        VQAFormatError: if the file is not in the official layout or repeats a question id.
    """
    layout = '{"questions": [{"question_id": int, "image_id": int, "question": str}, ...]}'
    questions: dict[int, VQAQuestion] = {}
    for index, entry in enumerate(entries(path, load_json(path), "questions", layout)):
        question_id, where = _question_id(path, "questions", index, entry)
        _check_new(path, questions, question_id, where)
        image_id = field(path, where, entry, "image_id", int)
        questions[question_id] = VQAQuestion(question_id, image_id, field(path, where, entry, "question", str))
    return questions


def _answer_records(path: Path, where: str, entry: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    records = field(path, where, entry, "answers", list)
    if not records:
        raise VQAFormatError(f"{path}: {where} has no human answers")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise VQAFormatError(f"{path}: {where} answers[{i}] is {record!r}, expected an object with an 'answer'")
        field(path, f"{where} answers[{i}]", record, "answer", str)
    return tuple(records)


def read_annotations(path: Path) -> dict[int, VQAAnnotation]:
    """An annotations file, by question id in file order.

    Raises:
        VQAFormatError: if the file is not in the official layout, repeats a question id, or a question has no human
            answers.
    """
    layout = (
        '{"annotations": [{"question_id": int, "image_id": int, "question_type": str, "answer_type": str, '
        '"answers": [{"answer": str, ...}, ...]}, ...]}'
    )
    annotations: dict[int, VQAAnnotation] = {}
    for index, entry in enumerate(entries(path, load_json(path), "annotations", layout)):
        question_id, where = _question_id(path, "annotations", index, entry)
        _check_new(path, annotations, question_id, where)
        multiple_choice = entry.get("multiple_choice_answer")
        if multiple_choice is not None:
            field(path, where, entry, "multiple_choice_answer", str)
        annotations[question_id] = VQAAnnotation(
            question_id=question_id,
            image_id=field(path, where, entry, "image_id", int),
            question_type=field(path, where, entry, "question_type", str),
            answer_type=field(path, where, entry, "answer_type", str),
            multiple_choice_answer=multiple_choice,
            answer_records=_answer_records(path, where, entry),
        )
    return annotations


def read_results(path: Path) -> dict[int, str]:
    """A results file: the predicted answer by question id.

    A question id given twice keeps its last answer, as the official evaluation does.

    Raises:
        VQAFormatError: if the file is not a list of `{"question_id": int, "answer": str}` objects.
    """
    layout = '[{"question_id": int, "answer": str}, ...]'
    results: dict[int, str] = {}
    for index, entry in enumerate(entries(path, load_json(path), None, layout)):
        question_id, where = _question_id(path, "results", index, entry)
        results[question_id] = field(path, where, entry, "answer", str)
    return results


def check_annotations_match(
    questions: Mapping[int, VQAQuestion],
    annotations: Mapping[int, VQAAnnotation],
    questions_path: Path,
    annotations_path: Path,
) -> None:
    """Checks that every annotated question is in the questions file, about the same image.

    Raises:
        VQAFormatError: naming the files and the question ids that do not match.
    """
    unasked = [question_id for question_id in annotations if question_id not in questions]
    if unasked:
        raise VQAFormatError(f"{annotations_path} has question ids missing from {questions_path}: {quote_ids(unasked)}")
    elsewhere = [
        question_id
        for question_id, annotation in annotations.items()
        if questions[question_id].image_id != annotation.image_id
    ]
    if elsewhere:
        raise VQAFormatError(
            f"{annotations_path} and {questions_path} give different image ids for question ids {quote_ids(elsewhere)}"
        )


def write_results(path: Path, answers: Iterable[tuple[int, str]]) -> None:
    """Writes a results file for the evaluation server (and `vlp eval vqa`) from (question id, answer) pairs."""
    entries = [{"question_id": int(question_id), "answer": answer} for question_id, answer in answers]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries), encoding="utf-8")
