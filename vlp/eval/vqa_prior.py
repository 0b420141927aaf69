"""The question-type prior: the blind baseline of the VQA papers ("per Q-type prior"), which answers every question of
a type with the most common training answer of that type, never looking at the image.

```
vlp eval vqa-prior --train-questions Q_train.json --train-annotations A_train.json --questions Q_test.json \
    --results prior_results.json
```
A question's type is the longest training question type its text starts with ("what color is the", "how many"), as
the official types are question prefixes; a question no type prefixes gets the most common training answer. The
results file is scored like a model's, with `vlp eval vqa`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from vlp.eval.vqa_files import VQAAnnotation, VQAFormatError, read_annotations, read_questions, write_results


def type_answers(annotations: Mapping[int, VQAAnnotation]) -> tuple[dict[str, str], str]:
    """Each question type's most common answer (ties: the answer seen first), and the most common answer overall.

    The answer of a question is its `multiple_choice_answer`, or where the file has none the most common of its human
    answers.
    """
    by_type: dict[str, Counter[str]] = {}
    overall: Counter[str] = Counter()
    for annotation in annotations.values():
        answer = annotation.multiple_choice_answer or Counter(annotation.answers).most_common(1)[0][0]
        by_type.setdefault(annotation.question_type.lower(), Counter())[answer] += 1
        overall[answer] += 1
    if not overall:
        raise ValueError("no training annotation to take the answers from")
    return {kind: counts.most_common(1)[0][0] for kind, counts in by_type.items()}, overall.most_common(1)[0][0]


def question_type(question: str, types: Sequence[str]) -> str | None:
    """The longest of `types` that the lowercased `question` starts with as whole words, or None."""
    words = question.lower().strip().split()
    text = " ".join(words)
    matches = [kind for kind in types if text == kind or text.startswith(kind + " ")]
    return max(matches, key=len, default=None)


def prior_answers(annotations: Mapping[int, VQAAnnotation], questions: Mapping[int, str]) -> dict[int, str]:
    """question id -> the prior's answer, for `questions` (id -> text), from the training `annotations`."""
    answers, fallback = type_answers(annotations)
    types = sorted(answers)
    result = {}
    for question_id, text in questions.items():
        kind = question_type(text, types)
        result[question_id] = fallback if kind is None else answers[kind]
    return result


def main(argv: Sequence[str]) -> int:
    """`vlp eval vqa-prior`: writes the prior's results file; returns the exit status."""
    parser = argparse.ArgumentParser(prog="vlp eval vqa-prior", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-questions", type=Path, required=True, help="questions json the prior learns from")
    parser.add_argument("--train-annotations", type=Path, required=True, help="their annotations json")
    parser.add_argument("--questions", type=Path, required=True, help="questions json to answer")
    parser.add_argument("--results", type=Path, required=True, help="results json to write")
    args = parser.parse_args(argv)
    try:
        train_questions = read_questions(args.train_questions)
        annotations = read_annotations(args.train_annotations)
        unknown = sorted(set(annotations) - set(train_questions))
        if unknown:
            raise VQAFormatError(
                f"{args.train_annotations} annotates question ids {unknown[:5]} that "
                f"{args.train_questions} does not have"
            )
        questions = {qid: question.question for qid, question in read_questions(args.questions).items()}
        answers = prior_answers(annotations, questions)
    except (VQAFormatError, ValueError) as error:
        print(f"vlp eval vqa-prior: error: {error}", file=sys.stderr)
        return 1
    write_results(args.results, answers.items())
    print(f"{len(answers)} questions answered by the question-type prior -> {args.results}")
    return 0
