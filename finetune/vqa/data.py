"""VQA v2 examples straight from the official files: questions joined with their annotations and soft targets.

train = read_examples(VQAFiles(train_questions, train_annotations))
train += read_examples(VQAFiles(vg_questions, vg_annotations))  # optional extra: Visual Genome QA, same layout
vocabulary = answer_vocabulary(train, min_count=9)
train = with_targets(train, vocabulary, scoring="leave_one_out")
val = with_targets(read_examples(VQAFiles(val_questions, val_annotations)), vocabulary, "leave_one_out")
test_dev = read_examples(VQAFiles(test_dev_questions))  # questions only: no answers, no target
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from finetune.vqa.answers import DEFAULT_MIN_COUNT, AnswerVocabulary, SoftTarget, TargetScoring
from vlp.eval.vqa_files import VQAFormatError, check_annotations_match, quote_ids, read_annotations, read_questions


@dataclass(frozen=True)
class VQAFiles:
    """The official files of one split: questions, and annotations except for test-dev and test-std."""

    questions: Path
    annotations: Path | None = None


@dataclass(frozen=True)
class VQAExample:
    """One question, with what its annotation says when there is one.

    Attributes:
        question_id: the official question id (results are keyed by it).
        image_id: the image, as keyed in the region store.
        question: the question text.
        question_type: the official question type ("what color is the"), None without annotations.
        answer_type: "yes/no", "number" or "other", None without annotations.
        multiple_choice_answer: the most frequent human answer, where the annotations give it.
        answers: the human answers as in the file, for the official accuracy; empty without annotations.
        target: the soft target over the answer vocabulary, once `with_targets` has set it.
    """

    question_id: int
    image_id: int
    question: str
    question_type: str | None = None
    answer_type: str | None = None
    multiple_choice_answer: str | None = None
    answers: tuple[str, ...] = ()
    target: SoftTarget | None = None


def read_examples(files: VQAFiles) -> list[VQAExample]:
    """The questions of a split in file order, each joined with its annotation when the split has annotations.

    Raises:
        VQAFormatError: if a file is not in the official layout, an annotation has no question (or another image) in
            the questions file, or a question has no annotation; the message names the files and question ids.
    """
    questions = read_questions(files.questions)
    if files.annotations is None:
        return [VQAExample(q.question_id, q.image_id, q.question) for q in questions.values()]
    annotations = read_annotations(files.annotations)
    check_annotations_match(questions, annotations, files.questions, files.annotations)
    unannotated = [question_id for question_id in questions if question_id not in annotations]
    if unannotated:
        raise VQAFormatError(
            f"{files.questions} has questions without an annotation in {files.annotations}: {quote_ids(unannotated)}"
        )
    examples = []
    for question in questions.values():
        annotation = annotations[question.question_id]
        examples.append(
            VQAExample(
                question_id=question.question_id,
                image_id=question.image_id,
                question=question.question,
                question_type=annotation.question_type,
                answer_type=annotation.answer_type,
                multiple_choice_answer=annotation.multiple_choice_answer,
                answers=annotation.answers,
            )
        )
    return examples


def _vocabulary_answers(examples: Iterable[VQAExample]) -> Iterator[str]:
    """One answer per annotated question: its `multiple_choice_answer`, else its most frequent human answer."""
    for example in examples:
        if example.multiple_choice_answer is not None:
            yield example.multiple_choice_answer
        elif example.answers:
            yield Counter(example.answers).most_common(1)[0][0]


def answer_vocabulary(examples: Iterable[VQAExample], min_count: int = DEFAULT_MIN_COUNT) -> AnswerVocabulary:
    """The answer vocabulary of training examples: answers that are the main answer of at least `min_count` questions.

    As BUTD and Oscar count it, the main answer of a question is its `multiple_choice_answer`, normalised; for
    question files without one (some Visual Genome QA conversions), its most frequent human answer. VQA v2 train+val
    at `min_count` 9 gives 3,129 answers.
    """
    return AnswerVocabulary.build(_vocabulary_answers(examples), min_count)


def with_targets(
    examples: Sequence[VQAExample], vocabulary: AnswerVocabulary, scoring: TargetScoring
) -> list[VQAExample]:
    """The examples with their soft targets over `vocabulary` (see `finetune.vqa.answers` for `scoring`).

    Raises:
        ValueError: if an example has no human answers (a questions-only split), naming its question id.
    """
    unanswered = [example.question_id for example in examples if not example.answers]
    if unanswered:
        raise ValueError(f"soft targets need human answers; none for question ids {quote_ids(unanswered)}")
    return [dataclasses.replace(example, target=vocabulary.target(example.answers, scoring)) for example in examples]
