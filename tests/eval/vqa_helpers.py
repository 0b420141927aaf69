"""Shared by the VQA tests: a small generated world, and official-format files written by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vlp.world import WorldFiles, generate_world


@pytest.fixture(scope="session")
def vqa_world(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    """A 30-image world (about 270 questions) in the official VQA v2 layout; under a second to generate."""
    return generate_world(tmp_path_factory.mktemp("vqa_world"), num_images=30, seed=0, image_size=32)


def annotation(question_id: int, answers: list[str], answer_type: str = "other", **fields: Any) -> dict[str, Any]:
    """An official annotation entry with answer ids 1..n; `fields` override or add keys."""
    records = [{"answer": a, "answer_confidence": "yes", "answer_id": i} for i, a in enumerate(answers, start=1)]
    entry = {
        "question_id": question_id,
        "image_id": question_id // 10,
        "question_type": "what is",
        "answer_type": answer_type,
        "multiple_choice_answer": answers[0],
        "answers": records,
    }
    return entry | fields


def write_split(folder: Path, annotations: list[dict[str, Any]]) -> tuple[Path, Path]:
    """Writes a questions file and an annotations file for `annotations`; returns their paths."""
    questions = [
        {"question_id": a["question_id"], "image_id": a["image_id"], "question": f"question {a['question_id']}?"}
        for a in annotations
    ]
    questions_path, annotations_path = folder / "questions.json", folder / "annotations.json"
    questions_path.write_text(json.dumps({"task_type": "Open-Ended", "questions": questions}))
    annotations_path.write_text(json.dumps({"annotations": annotations}))
    return questions_path, annotations_path
