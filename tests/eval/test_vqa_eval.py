"""`vlp eval vqa` against a direct restatement of the official evaluation, and its messages for bad input."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from tests.eval.vqa_helpers import annotation, write_split
from vlp.cli.main import main
from vlp.eval.vqa import evaluate_files
from vlp.eval.vqa_files import write_results
from vlp.metrics.vqa_normalize import ARTICLES, CONTRACTIONS, NUMBER_WORDS, PUNCTUATION
from vlp.world import WorldFiles


def reference_evaluation(annotations: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The official `VQAEval.evaluate` restated step by step (word tables shared; they are tested by hand)."""

    def clean(text: str) -> str:
        return text.replace("\n", " ").replace("\t", " ").strip()

    def punctuation(text: str) -> str:
        out = text
        for mark in PUNCTUATION:
            spaced = mark + " " in text or " " + mark in text or re.search(r"\d,\d", text)
            out = out.replace(mark, "" if spaced else " ")
        return re.sub(r"\.(?!\d)", "", out, count=32)

    def digit_article(text: str) -> str:
        words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
        return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)

    predictions = {result["question_id"]: result["answer"] for result in results}
    scores, by_question_type, by_answer_type = [], {}, {}
    for ann in annotations:
        records = [dict(record, answer=clean(record["answer"])) for record in ann["answers"]]
        prediction = clean(predictions[ann["question_id"]])
        if len({record["answer"] for record in records}) > 1:
            records = [dict(record, answer=digit_article(punctuation(record["answer"]))) for record in records]
            prediction = digit_article(punctuation(prediction))
        subsets = [[other for other in records if other != left_out] for left_out in records]
        accuracies = [min(1, sum(other["answer"] == prediction for other in subset) / 3) for subset in subsets]
        score = sum(accuracies) / len(accuracies)
        scores.append(score)
        by_question_type.setdefault(ann["question_type"], []).append(score)
        by_answer_type.setdefault(ann["answer_type"], []).append(score)

    def percent(values: list[float]) -> float:
        return round(100 * sum(values) / len(values), 2)

    return {
        "overall": percent(scores),
        "perQuestionType": {name: percent(values) for name, values in by_question_type.items()},
        "perAnswerType": {name: percent(values) for name, values in by_answer_type.items()},
    }


EDITS = ["", " ", ".", "!", ",", " !", "-", "the ", "a ", "\n", "\t", "'", "?", "1,0"]
OTHER_ANSWERS = ["yes", "no", "2", "two", "none", "zero", "gray", "grey", "plus sign", "plus-sign", "Red", "dont"]


def perturbed(answer: str, rng: random.Random) -> str:
    """A human answer as a model might write it: as is, edited with punctuation and articles, recased, or another."""
    draw = rng.random()
    if draw < 0.3:
        return answer
    if draw < 0.5:
        return rng.choice(OTHER_ANSWERS)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(answer))
        answer = answer[:at] + rng.choice(EDITS) + answer[at:]
    return answer.upper() if rng.random() < 0.2 else answer


def _split(world: WorldFiles, split: str) -> tuple[Path, Path, list[dict[str, Any]]]:
    annotations = json.loads(world.vqa_annotations[split].read_text())["annotations"]
    return world.vqa_questions[split], world.vqa_annotations[split], annotations


@pytest.mark.parametrize("split", ["train", "val"])
def test_equals_the_reference_on_perturbed_results(vqa_world: WorldFiles, split: str, tmp_path: Path) -> None:
    questions, annotations_path, annotations = _split(vqa_world, split)
    rng = random.Random(split)
    for trial in range(8):
        results = [(a["question_id"], perturbed(rng.choice(a["answers"])["answer"], rng)) for a in annotations]
        write_results(tmp_path / f"results{trial}.json", results)
        expected = reference_evaluation(annotations, [{"question_id": q, "answer": a} for q, a in results])
        assert evaluate_files(questions, annotations_path, tmp_path / f"results{trial}.json").to_json() == expected


def test_equals_the_reference_on_unusual_annotations(tmp_path: Path) -> None:
    """Punctuated human answers, fewer than ten, and records repeated in every field (which leave out together)."""
    entries = [
        annotation(10, ["T-shirt", "t shirt", "shirt"], question_type="what is"),
        annotation(11, ["yes"] * 10, answer_type="yes/no", question_type="is the"),
        annotation(12, ["1,000", "1000", "1000.", "one thousand"], answer_type="number", question_type="how many"),
        annotation(13, ["yes", "yes", "no"], answer_type="yes/no", question_type="is the"),
        annotation(14, ["a dog"] * 3 + ["dog"], question_type="what is"),
    ]
    for entry in entries[3:]:  # answer records without id or confidence: the equal ones are indistinguishable
        entry["answers"] = [{"answer": record["answer"]} for record in entry["answers"]]
    questions, annotations_path = write_split(tmp_path, entries)
    for answers in (["t shirt", "Yes", "1000", "yes", "dog"], ["T-shirt", "yes", "1,000", "no", "the dog"]):
        results = [{"question_id": e["question_id"], "answer": a} for e, a in zip(entries, answers, strict=True)]
        (tmp_path / "results.json").write_text(json.dumps(results))
        expected = reference_evaluation(entries, results)
        assert evaluate_files(questions, annotations_path, tmp_path / "results.json").to_json() == expected


def test_round_trip_through_vlp_eval(vqa_world: WorldFiles, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    questions, annotations_path, annotations = _split(vqa_world, "val")
    rng = random.Random(0)
    results = [(a["question_id"], perturbed(a["multiple_choice_answer"], rng)) for a in annotations]
    write_results(tmp_path / "results.json", results)
    argv = ["--questions", str(questions), "--annotations", str(annotations_path)]
    argv += ["--results", str(tmp_path / "results.json"), "--output", str(tmp_path / "out" / "accuracy.json")]
    assert main(["eval", "vqa", *argv]) == 0
    expected = reference_evaluation(annotations, [{"question_id": q, "answer": a} for q, a in results])
    assert json.loads((tmp_path / "out" / "accuracy.json").read_text()) == expected
    printed = capsys.readouterr().out
    assert f"VQA accuracy over {len(annotations)} questions: {expected['overall']:.2f}" in printed
    for name, value in expected["perAnswerType"].items():
        assert re.search(rf"^  {re.escape(name)} +{value:.2f}$", printed, re.MULTILINE)


def test_all_right_scores_100(vqa_world: WorldFiles, tmp_path: Path) -> None:
    questions, annotations_path, annotations = _split(vqa_world, "val")
    write_results(tmp_path / "results.json", [(a["question_id"], a["multiple_choice_answer"]) for a in annotations])
    evaluation = evaluate_files(questions, annotations_path, tmp_path / "results.json")
    assert evaluation.overall == 100 and set(evaluation.per_answer_type.values()) == {100}


Files = tuple[Path, Path, list[dict[str, Any]]]


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """Questions and annotations of three questions, and results answering all three."""
    entries = [annotation(question_id, ["yes"] * 10, answer_type="yes/no") for question_id in (10, 11, 12)]
    questions, annotations = write_split(tmp_path, entries)
    return questions, annotations, [{"question_id": e["question_id"], "answer": "yes"} for e in entries]


def _errors_for(results: Any, files: Files, capsys: pytest.CaptureFixture) -> str:
    """What `vlp eval vqa` prints to stderr for these results (a json value, or raw text); it must exit with 1."""
    questions, annotations, _ = files
    path = questions.parent / "results.json"
    path.write_text(results if isinstance(results, str) else json.dumps(results))
    argv = ["--questions", str(questions), "--annotations", str(annotations), "--results", str(path)]
    assert main(["eval", "vqa", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vlp eval vqa: error: ")
    return err


def test_result_for_an_unknown_question_id(files: Files, capsys: pytest.CaptureFixture) -> None:
    err = _errors_for([*files[2], {"question_id": 999, "answer": "no"}], files, capsys)
    assert "results.json has results for question ids not in" in err and "annotations.json: 999" in err


def test_question_without_a_result(files: Files, capsys: pytest.CaptureFixture) -> None:
    err = _errors_for(files[2][:1], files, capsys)
    assert "results.json has no result for 2 of the 3 questions of" in err and "question ids 11, 12" in err


def test_annotated_question_missing_from_the_questions_file(files: Files, capsys: pytest.CaptureFixture) -> None:
    questions = json.loads(files[0].read_text())
    questions["questions"] = questions["questions"][1:]
    files[0].write_text(json.dumps(questions))
    err = _errors_for(files[2], files, capsys)
    assert "annotations.json has question ids missing from" in err and "questions.json: 10" in err


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ('[{"question_id": 10, "answer": "yes"', "results.json is not valid JSON: Expecting"),
        ({"question_id": 10, "answer": "yes"}, 'is not a VQA results file: expected [{"question_id": int'),
        (["yes"], "results[0] is 'yes', expected an object"),
        ([{"question_id": 10}], "results[0] (question_id 10) has no 'answer'"),
        ([{"question_id": 10, "answer": 3}], "results[0] (question_id 10) has answer 3, expected str"),
        ([{"question_id": "10", "answer": "yes"}], "results[0] has question_id '10', expected int"),
    ],
)
def test_malformed_results(results: Any, message: str, files: Files, capsys: pytest.CaptureFixture) -> None:
    assert message in _errors_for(results, files, capsys)


def test_malformed_annotations_and_missing_files(files: Files, capsys: pytest.CaptureFixture) -> None:
    annotations, results = files[1], files[2]
    content = json.loads(annotations.read_text())
    content["annotations"][1]["answers"] = []
    annotations.write_text(json.dumps(content))
    assert "annotations[1] (question_id 11) has no human answers" in _errors_for(results, files, capsys)
    del content["annotations"][1]["answer_type"]
    annotations.write_text(json.dumps(content))
    assert "annotations[1] (question_id 11) has no 'answer_type'" in _errors_for(results, files, capsys)
    annotations.unlink()
    assert "annotations.json: no such file" in _errors_for(results, files, capsys)


def test_vlp_eval_lists_tasks_and_rejects_unknown_ones(capsys: pytest.CaptureFixture) -> None:
    assert main(["eval"]) == 0
    assert "vqa" in capsys.readouterr().out
    assert main(["eval", "frobnicate"]) == 2
    assert "unknown task 'frobnicate'" in capsys.readouterr().err
