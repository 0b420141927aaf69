"""`vlp eval vqa-prior`: the question-type prior, against counts made by hand on small files and on a generated
world (where it must equal answering each annotated type with its most common training answer)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.eval.vqa_helpers import annotation, vqa_world
from vlp.cli.main import main as vlp_main
from vlp.eval.vqa_prior import question_type
from vlp.world import WorldFiles

__all__ = ["vqa_world"]


def write(path: Path, key: str, entries: list[dict]) -> Path:
    path.write_text(json.dumps({key: entries}))
    return path


def test_each_type_gets_its_most_common_answer_and_unknown_types_the_overall_one(tmp_path: Path, capsys):
    train = [
        annotation(1, ["red"], question_type="what color is the"),
        annotation(2, ["red"], question_type="what color is the"),
        annotation(3, ["blue"], question_type="what color is the"),
        annotation(4, ["green"], question_type="what color"),
        annotation(5, ["yes"], question_type="is there a"),
        annotation(6, ["yes"], question_type="is there a"),
        annotation(7, ["no"], question_type="is there a"),
        annotation(8, ["yes"], question_type="is there a"),
    ]
    texts = {1: "What color is the star?"} | {i: f"question {i}?" for i in range(2, 9)}
    train_q = write(
        tmp_path / "q.json", "questions", [{"question_id": i, "image_id": 0, "question": t} for i, t in texts.items()]
    )
    train_a = write(tmp_path / "a.json", "annotations", train)
    asked = {
        10: "What color is the big circle?",  # longest prefix: "what color is the" -> red
        11: "What color are they?",  # only "what color" prefixes it -> green
        12: "Is there a star?",  # -> yes
        13: "Is there   A  circle ?",  # case and spacing do not matter -> yes
        14: "Where is the circle?",  # no type: the most common answer overall -> yes
        15: "What colorful thing is there?",  # "what color" is not a prefix of whole words here -> yes
    }
    test_q = write(
        tmp_path / "test.json",
        "questions",
        [{"question_id": i, "image_id": 1, "question": t} for i, t in asked.items()],
    )
    results = tmp_path / "prior.json"
    argv = ["eval", "vqa-prior", f"--train-questions={train_q}", f"--train-annotations={train_a}"]
    assert vlp_main([*argv, f"--questions={test_q}", f"--results={results}"]) == 0
    answers = {entry["question_id"]: entry["answer"] for entry in json.loads(results.read_text())}
    assert answers == {10: "red", 11: "green", 12: "yes", 13: "yes", 14: "yes", 15: "yes"}
    assert f"6 questions answered by the question-type prior -> {results}" in capsys.readouterr().out


def test_on_a_world_it_answers_each_annotated_type_with_its_training_majority(vqa_world: WorldFiles, tmp_path: Path):
    train = json.loads(vqa_world.vqa_annotations["train"].read_text())["annotations"]
    majority = {}
    for kind in {a["question_type"] for a in train}:
        counts = Counter(a["multiple_choice_answer"] for a in train if a["question_type"] == kind)
        top = max(counts.values())
        # Ties go to the answer seen first in the file, as Counter.most_common orders them.
        majority[kind] = next(
            a["multiple_choice_answer"]
            for a in train
            if a["question_type"] == kind and counts[a["multiple_choice_answer"]] == top
        )
    results = tmp_path / "prior.json"
    argv = [f"--train-questions={vqa_world.vqa_questions['train']}"]
    argv += [f"--train-annotations={vqa_world.vqa_annotations['train']}"]
    assert (
        vlp_main(["eval", "vqa-prior", *argv, f"--questions={vqa_world.vqa_questions['val']}", f"--results={results}"])
        == 0
    )
    answers = {entry["question_id"]: entry["answer"] for entry in json.loads(results.read_text())}
    val = json.loads(vqa_world.vqa_annotations["val"].read_text())["annotations"]
    assert len(answers) == len(val)
    for entry in val:
        assert answers[entry["question_id"]] == majority[entry["question_type"]]


def test_question_type_is_the_longest_whole_word_prefix():
    types = ["what", "what color", "what color is the", "how many"]
    assert question_type("What color is the sky?", types) == "what color is the"
    assert question_type("whatever", types) is None
    assert question_type("how many", types) == "how many"


def test_annotations_of_other_questions_are_refused(tmp_path: Path, capsys):
    train_q = write(tmp_path / "q.json", "questions", [{"question_id": 1, "image_id": 0, "question": "is it?"}])
    train_a = write(tmp_path / "a.json", "annotations", [annotation(2, ["yes"])])
    argv = ["eval", "vqa-prior", f"--train-questions={train_q}", f"--train-annotations={train_a}"]
    assert vlp_main([*argv, f"--questions={train_q}", f"--results={tmp_path / 'r.json'}"]) == 1
    assert "annotates question ids [2]" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
