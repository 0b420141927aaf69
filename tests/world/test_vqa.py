"""VQA v2 questions and annotations: the official layout, ten human answers, and answers that need the image."""

from __future__ import annotations

from collections import Counter, defaultdict

from tests.world.reference import COLOURS, LoadedWorld, expected_answer
from vlp.world import SPLITS

QUESTION_TYPES = {"what color is the", "what shape is the", "how many", "is there a", "are there any", "is the"}


def test_files_have_the_official_keys(world: LoadedWorld) -> None:
    for split in SPLITS:
        questions, annotations = world.vqa_questions[split], world.vqa_annotations[split]
        assert {"info", "task_type", "data_type", "license", "data_subtype", "questions"} <= set(questions)
        assert (questions["task_type"], questions["data_type"], questions["data_subtype"]) == (
            "Open-Ended",
            "mscoco",
            split,
        )
        assert {"info", "license", "data_subtype", "annotations"} <= set(annotations)
        assert [(q["question_id"], q["image_id"]) for q in questions["questions"]] == [
            (a["question_id"], a["image_id"]) for a in annotations["annotations"]
        ]
        for question in questions["questions"]:
            assert set(question) == {"image_id", "question", "question_id"}
        for ann in annotations["annotations"]:
            assert set(ann) == {
                "question_type",
                "multiple_choice_answer",
                "answers",
                "image_id",
                "answer_type",
                "question_id",
            }
    ids = [q["question_id"] for q in world.all_of("vqa_questions", "questions")]
    assert len(ids) == len(set(ids))


def test_ten_answers_and_the_majority_is_the_multiple_choice_answer(world: LoadedWorld) -> None:
    for ann in world.all_of("vqa_annotations", "annotations"):
        assert [a["answer_id"] for a in ann["answers"]] == list(range(1, 11))
        assert {a["answer_confidence"] for a in ann["answers"]} <= {"yes", "maybe", "no"}
        (top, top_count), *others = Counter(a["answer"] for a in ann["answers"]).most_common()
        assert top == ann["multiple_choice_answer"] and top_count > 5 >= max((n for _, n in others), default=0)
        assert ann["answer_type"] in ("yes/no", "number", "other")


def test_question_types_are_prefixes(world: LoadedWorld) -> None:
    questions = {q["question_id"]: q["question"] for q in world.all_of("vqa_questions", "questions")}
    seen = set()
    for ann in world.all_of("vqa_annotations", "annotations"):
        assert questions[ann["question_id"]].startswith(ann["question_type"])
        seen.add(ann["question_type"])
    assert seen == QUESTION_TYPES


def test_answers_agree_with_the_instances(world: LoadedWorld) -> None:
    """Every right answer re-derived from the COCO instances json (counts, colours, shapes, existence, relations,
    sizes), and every "the ..." in a question fits exactly one object."""
    questions = {q["question_id"]: q for q in world.all_of("vqa_questions", "questions")}
    for ann in world.all_of("vqa_annotations", "annotations"):
        question = questions[ann["question_id"]]
        image_id = question["image_id"]
        expected = expected_answer(question["question"], world.objects[image_id], world.image_side[image_id])
        assert ann["multiple_choice_answer"] == expected, question["question"]
        assert (ann["answer_type"] == "yes/no") == (expected in ("yes", "no"))
        assert (ann["answer_type"] == "number") == expected.isdigit()


def test_yes_no_is_balanced_overall_and_per_question_type(world: LoadedWorld) -> None:
    by_type = defaultdict(Counter)
    for ann in world.all_of("vqa_annotations", "annotations"):
        if ann["answer_type"] == "yes/no":
            by_type[ann["question_type"]][ann["multiple_choice_answer"]] += 1
    total = sum(by_type.values(), Counter())
    assert abs(total["yes"] - total["no"]) <= 0.03 * (total["yes"] + total["no"])
    for question_type, counts in by_type.items():
        assert 0.35 <= counts["yes"] / (counts["yes"] + counts["no"]) <= 0.65, question_type


def test_answers_need_the_image(world: LoadedWorld) -> None:
    """Colour and shape answers spread over all values, counts over several: the question alone does not tell."""
    answers = defaultdict(Counter)
    for ann in world.all_of("vqa_annotations", "annotations"):
        answers[ann["question_type"]][ann["multiple_choice_answer"]] += 1
    colours = answers["what color is the"]
    assert set(colours) == set(COLOURS) and max(colours.values()) <= 0.3 * sum(colours.values())
    assert len(answers["what shape is the"]) == 7
    assert len(answers["how many"]) >= 4


def test_human_answers_disagree_realistically(world: LoadedWorld) -> None:
    annotations = world.all_of("vqa_annotations", "annotations")
    agreeing = [sum(a["answer"] == ann["multiple_choice_answer"] for a in ann["answers"]) for ann in annotations]
    unanimous = sum(count == 10 for count in agreeing) / len(agreeing)
    assert 0.25 <= unanimous <= 0.6
    assert min(agreeing) >= 6 and {6, 7, 8, 9} <= set(agreeing)
    all_answers = {a["answer"] for ann in annotations for a in ann["answers"]}
    assert {"yeah", "grey", "two"} <= all_answers  # variants that the official normalisation does or does not merge
