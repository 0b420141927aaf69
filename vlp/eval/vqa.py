"""`vlp eval vqa`: the official VQA accuracy of a results file, overall, per answer type and per question type.

    vlp eval vqa --questions v2_OpenEnded_mscoco_val2014_questions.json \\
        --annotations v2_mscoco_val2014_annotations.json --results val_results.json [--output accuracy.json]

The numbers equal those of the official evaluation (GT-Vision-Lab/VQA, `vqaEval.py`, run under Python 3): answers
normalised by its rules, the all-identical rule included (`vlp.metrics.vqa_accuracy`); every question of the annotations
file scored and weighted equally; percentages rounded to two decimals. The json written by `--output` has the keys of
the official `accuracy` dict: `overall`, `perQuestionType`, `perAnswerType`.

Where the official code would crash or quietly score something else, this one stops with a message instead: results for
question ids the annotations do not have, questions left without a result, annotated questions missing from the
questions file or asked about another image there, annotations that repeat a question id or give a question no answers,
and files not in the official layout. As in the official code, a
question id given twice in the results keeps its last answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlp.eval.vqa_files import (
    VQAAnnotation,
    VQAFormatError,
    check_annotations_match,
    quote_ids,
    read_annotations,
    read_questions,
    read_results,
)
from vlp.metrics.vqa_accuracy import leave_one_out_accuracy, official_answers

DECIMALS = 2


@dataclass(frozen=True)
class VQAEvaluation:
    """Accuracies in percent, rounded to two decimals as the official evaluation does.

    Attributes:
        overall: mean over questions of the per-question accuracy.
        per_answer_type: the same mean over the questions of each answer type.
        per_question_type: the same mean over the questions of each question type.
        num_questions: how many questions were scored.
    """

    overall: float
    per_answer_type: dict[str, float]
    per_question_type: dict[str, float]
    num_questions: int

    def to_json(self) -> dict[str, Any]:
        """The official `accuracy` dict: `overall`, `perQuestionType`, `perAnswerType`."""
        return {
            "overall": self.overall,
            "perQuestionType": self.per_question_type,
            "perAnswerType": self.per_answer_type,
        }

    def report(self) -> str:
        """A table for people: overall, then each answer type and each question type, by name."""
        lines = [f"VQA accuracy over {self.num_questions} questions: {self.overall:.2f}"]
        for title, per_type in (("answer type", self.per_answer_type), ("question type", self.per_question_type)):
            width = max(map(len, per_type), default=0) + 2
            lines += ["", f"per {title}:"] + [f"  {name:<{width}}{per_type[name]:6.2f}" for name in sorted(per_type)]
        return "\n".join(lines)


def question_accuracy(prediction: str, annotation: VQAAnnotation) -> float:
    """The official accuracy of one predicted answer, in [0, 1].

    Unlike `vlp.metrics.vqa_accuracy.vqa_accuracy`, this follows the official code also where answer records repeat
    in every field: leaving one out drops all its copies.
    """
    prediction, answers = official_answers(prediction, annotation.answers)
    # The official code compares whole records, their answer processed; only matching ones need their copies counted.
    records = [record | {"answer": answer} for record, answer in zip(annotation.answer_records, answers, strict=True)]
    left_out = [
        sum(other == record for other in records) if record["answer"] == prediction else 1 for record in records
    ]
    return leave_one_out_accuracy(prediction, answers, left_out)


def _percent(scores: Sequence[float]) -> float:
    # Summed in question order and scaled before dividing, like the official code, so that the last bit agrees.
    return round(100 * sum(scores) / len(scores), DECIMALS)


def score_results(annotations: Mapping[int, VQAAnnotation], results: Mapping[int, str]) -> VQAEvaluation:
    """The official accuracy of `results` over the questions of `annotations`.

    Args:
        annotations: by question id, in the order of the annotations file.
        results: the predicted answer by question id, for every question of `annotations` (`check_results_match`).

    Raises:
        ValueError: if `annotations` is empty.
    """
    if not annotations:
        raise ValueError("there are no annotated questions to score")
    scores: list[float] = []
    per_answer_type: dict[str, list[float]] = {}
    per_question_type: dict[str, list[float]] = {}
    for question_id, annotation in annotations.items():
        score = question_accuracy(results[question_id], annotation)
        scores.append(score)
        per_answer_type.setdefault(annotation.answer_type, []).append(score)
        per_question_type.setdefault(annotation.question_type, []).append(score)
    return VQAEvaluation(
        overall=_percent(scores),
        per_answer_type={name: _percent(values) for name, values in per_answer_type.items()},
        per_question_type={name: _percent(values) for name, values in per_question_type.items()},
        num_questions=len(scores),
    )


def check_results_match(
    annotations: Mapping[int, VQAAnnotation], results: Mapping[int, str], paths: tuple[Path, Path]
) -> None:
    """Checks that the results answer every annotated question and no other, as the official evaluation requires.

    Args:
        annotations, results: as read from their files.
        paths: the annotations and results files, to name them in messages.

    Raises:
        VQAFormatError: naming the results for unknown question ids and the questions left without a result.
    """
    annotations_path, results_path = paths
    problems = []
    unknown = [question_id for question_id in results if question_id not in annotations]
    if unknown:
        problems.append(f"{results_path} has results for question ids not in {annotations_path}: {quote_ids(unknown)}")
    unanswered = [question_id for question_id in annotations if question_id not in results]
    if unanswered:
        problems.append(
            f"{results_path} has no result for {len(unanswered)} of the {len(annotations)} questions of "
            f"{annotations_path}, question ids {quote_ids(unanswered)}"
        )
    if problems:
        raise VQAFormatError("\n".join(problems))


def evaluate_files(questions_path: Path, annotations_path: Path, results_path: Path) -> VQAEvaluation:
    """Reads the three files, checks they belong together and scores the results.

    Raises:
        VQAFormatError: if a file is not in the official layout or the files do not match.
    """
    questions = read_questions(questions_path)
    annotations = read_annotations(annotations_path)
    if not annotations:
        raise VQAFormatError(f"{annotations_path} has no annotations")
    check_annotations_match(questions, annotations, questions_path, annotations_path)
    results = read_results(results_path)
    check_results_match(annotations, results, (annotations_path, results_path))
    return score_results(annotations, results)


def main(argv: Sequence[str]) -> int:
    """`vlp eval vqa`: prints the accuracies; with `--output`, also writes them as json. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="vlp eval vqa", description="Official VQA accuracy of a results file [{question_id, answer}, ...]."
    )
    parser.add_argument("--questions", type=Path, required=True, help="official questions json of the split")
    parser.add_argument("--annotations", type=Path, required=True, help="official annotations json of the split")
    parser.add_argument("--results", type=Path, required=True, help='results json: [{"question_id", "answer"}, ...]')
    parser.add_argument("--output", type=Path, help="where to write the accuracies as json")
    args = parser.parse_args(argv)
    try:
        evaluation = evaluate_files(args.questions, args.annotations, args.results)
    except VQAFormatError as error:
        print(f"vlp eval vqa: error: {error}", file=sys.stderr)
        return 1
    print(evaluation.report())
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(evaluation.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0
