"""VQA examples read from the official files: joins, questions-only splits, the extra file, and clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.vqa.answers import AnswerVocabulary
from finetune.vqa.data import VQAFiles, answer_vocabulary, read_examples, with_targets
from tests.eval.vqa_helpers import annotation, write_split
from vlp.eval.vqa_files import VQAFormatError
from vlp.world import WorldFiles


def test_world_split_joins_questions_and_annotations(vqa_world: WorldFiles) -> None:
    files = VQAFiles(vqa_world.vqa_questions["train"], vqa_world.vqa_annotations["train"])
    examples = read_examples(files)
    questions = json.loads(files.questions.read_text())["questions"]
    annotations = {a["question_id"]: a for a in json.loads(files.annotations.read_text())["annotations"]}
    assert [e.question_id for e in examples] == [q["question_id"] for q in questions]
    for example, question in zip(examples, questions, strict=True):
        ann = annotations[example.question_id]
        assert (example.image_id, example.question) == (question["image_id"], question["question"])
        assert (example.question_type, example.answer_type) == (ann["question_type"], ann["answer_type"])
        assert example.answers == tuple(a["answer"] for a in ann["answers"])
        assert example.multiple_choice_answer == ann["multiple_choice_answer"] and example.target is None

    vocabulary = answer_vocabulary(examples, min_count=1)
    assert set(vocabulary.answers) == {a["multiple_choice_answer"] for a in annotations.values()}
    for example in with_targets(examples, vocabulary, "leave_one_out"):
        # The majority answer (at least six of ten) is always a class with score 1.
        assert example.target is not None
        top = vocabulary.answers.index(example.multiple_choice_answer)
        assert example.target.scores[example.target.indices.index(top)] == pytest.approx(1.0)


def test_questions_only_split(vqa_world: WorldFiles) -> None:
    examples = read_examples(VQAFiles(vqa_world.vqa_questions["test"]))
    assert len(examples) == vqa_world.num_questions["test"]
    assert all(e.answers == () and e.answer_type is None and e.target is None for e in examples)
    with pytest.raises(ValueError, match="soft targets need human answers; none for question ids"):
        with_targets(examples, AnswerVocabulary(("yes",)), "table")


def test_extra_file_without_multiple_choice_answer(tmp_path: Path) -> None:
    """Visual Genome QA style: one answer per question, no multiple_choice_answer; its answer counts instead."""
    entries = [annotation(q, ["dog"]) for q in (1, 2)] + [annotation(3, ["cat"])]
    for entry in entries:
        del entry["multiple_choice_answer"]
    examples = read_examples(VQAFiles(*write_split(tmp_path, entries)))
    vocabulary = answer_vocabulary(examples, min_count=2)
    assert vocabulary.answers == ("dog",)
    targets = [e.target for e in with_targets(examples, vocabulary, "table")]
    assert [(t.indices, t.scores) for t in targets if t is not None] == [((0,), (0.3,)), ((0,), (0.3,)), ((), ())]


def _files(tmp_path: Path) -> VQAFiles:
    return VQAFiles(*write_split(tmp_path, [annotation(q, ["yes"] * 10) for q in (10, 11, 12)]))


def _rewrite(path: Path, key: str, edit: Callable[[Any], Any]) -> None:
    content = json.loads(path.read_text())
    content[key] = edit(content[key])
    path.write_text(json.dumps(content))


def test_annotation_without_a_question(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _rewrite(files.questions, "questions", lambda questions: questions[:2])
    with pytest.raises(VQAFormatError, match=r"annotations.json has question ids missing from .*questions.json: 12"):
        read_examples(files)


def test_question_without_an_annotation(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _rewrite(files.annotations, "annotations", lambda annotations: annotations[1:])
    with pytest.raises(VQAFormatError, match=r"questions.json has questions without an annotation in .*: 10"):
        read_examples(files)


def test_image_ids_that_disagree(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _rewrite(files.annotations, "annotations", lambda annotations: [a | {"image_id": 7} for a in annotations])
    with pytest.raises(VQAFormatError, match="give different image ids for question ids 10, 11, 12"):
        read_examples(files)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda qs: [*qs, qs[0]], r"questions\[3\] \(question_id 10\) repeats a question id"),
        (lambda qs: [{k: v for k, v in q.items() if k != "question"} for q in qs], r"\(question_id 10\) has no 'q"),
        (lambda qs: {"10": qs[0]}, r"questions.json is not a VQA questions file: expected \{\"questions\""),
    ],
)
def test_malformed_questions(tmp_path: Path, edit: Callable[[Any], Any], message: str) -> None:
    files = _files(tmp_path)
    _rewrite(files.questions, "questions", edit)
    with pytest.raises(VQAFormatError, match=message):
        read_examples(files)
