"""Training curves read from Lightning's CSV logs, and the examples read back from the tasks' result files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.eval.vqa_helpers import vqa_world
from vlp.report.curves import curve_panels, latest_metrics_file, plot_curves, read_metrics
from vlp.report.examples import ImageExamples, add_captions, add_retrieved, add_vqa
from vlp.world import WorldFiles

__all__ = ["vqa_world"]

# As Lightning's CSVLogger writes them: one row per logging call, empty cells for metrics logged on other rows.
CSV = """epoch,step,train/loss_epoch,train/loss_step,val/acc,val/loss
0,9,,2.5,,
0,19,,2.0,,
0,24,,,0.4,1.9
0,24,2.2,,,
1,29,,nan,,
1,49,,1.5,0.6,1.4
"""


def write_log(root: Path, version: int, text: str = CSV) -> Path:
    path = root / "lightning_logs" / f"version_{version}" / "metrics.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_metrics_are_read_per_step_and_grouped_into_panels(tmp_path: Path):
    write_log(tmp_path, 9, "epoch,step,x\n0,1,1.0\n")
    newest = write_log(tmp_path, 10)  # version 10 is newer than version 9, though it sorts before it as text
    assert latest_metrics_file(tmp_path) == newest and latest_metrics_file(tmp_path / "none") is None
    series = read_metrics(newest)
    assert series["train/loss_step"] == [(9, 2.5), (19, 2.0), (49, 1.5)]  # the nan point is left out
    assert series["val/acc"] == [(24, 0.4), (49, 0.6)] and series["train/loss_epoch"] == [(24, 2.2)]
    panels = curve_panels(series)
    assert sorted(panels) == ["acc", "loss"]
    assert panels["loss"] == {"train": series["train/loss_step"], "val": series["val/loss"]}


def test_plot_curves_draws_the_chosen_panels_and_refuses_none(tmp_path: Path):
    series = read_metrics(write_log(tmp_path, 0))
    path = plot_curves(series, tmp_path / "out" / "curves.png", "a run", ["loss", "acc", "missing"])
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width > picture.height  # two panels side by side
    with pytest.raises(ValueError, match=r"no metrics to draw for 'a run' \(logged: train/loss_epoch"):
        plot_curves(series, tmp_path / "none.png", "a run", ["bleu4"])


def test_examples_come_from_the_official_files(vqa_world: WorldFiles, tmp_path: Path):
    questions = json.loads(vqa_world.vqa_questions["test"].read_text())["questions"]
    annotations = json.loads(vqa_world.vqa_annotations["test"].read_text())["annotations"]
    image_ids = sorted({str(q["image_id"]) for q in questions})[:2]
    # A results file answering every question "yes", except the first, answered with its majority answer.
    majority = {a["question_id"]: a["multiple_choice_answer"] for a in annotations}
    results = [{"question_id": q["question_id"], "answer": "yes"} for q in questions]
    results[0]["answer"] = majority[questions[0]["question_id"]]
    (tmp_path / "vqa.json").write_text(json.dumps(results))
    examples = {image_id: ImageExamples(image_id) for image_id in image_ids}
    add_vqa(examples, vqa_world.vqa_questions["test"], vqa_world.vqa_annotations["test"], tmp_path / "vqa.json", 2)
    for image_id, example in examples.items():
        asked = [q for q in questions if str(q["image_id"]) == image_id][:2]
        answered = {r["question_id"]: r["answer"] for r in results}
        assert example.answers == [
            (q["question"], answered[q["question_id"]], majority[q["question_id"]]) for q in asked
        ]

    captions = json.loads(vqa_world.captions["test"].read_text())
    image = captions["images"][0]
    examples = {str(image["id"]): ImageExamples(str(image["id"]))}
    (tmp_path / "captions.json").write_text(json.dumps([{"image_id": image["id"], "caption": "a red star"}]))
    add_captions(examples, vqa_world.captions["test"], tmp_path / "captions.json")
    example = examples[str(image["id"])]
    assert example.caption == "a red star"
    assert Counter(example.references) == Counter(
        a["caption"] for a in captions["annotations"] if a["image_id"] == image["id"]
    )

    split = json.loads(vqa_world.karpathy.read_text())
    first, second = split["images"][0], split["images"][1]
    ranked = [second["sentences"][0]["sentid"], first["sentences"][1]["sentid"]]
    (tmp_path / "rankings.json").write_text(
        json.dumps({"image_to_text": [{"image_id": first["cocoid"], "caption_ids": ranked}], "text_to_image": []})
    )
    examples = {str(first["cocoid"]): ImageExamples(str(first["cocoid"]))}
    add_retrieved(examples, vqa_world.karpathy, tmp_path / "rankings.json")
    assert examples[str(first["cocoid"])].retrieved == [
        (second["sentences"][0]["raw"], False),
        (first["sentences"][1]["raw"], True),
    ]


def test_an_unreadable_results_file_is_named(tmp_path: Path, vqa_world: WorldFiles):
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match=r"broken.json: cannot read it for the report"):
        add_captions({}, vqa_world.captions["test"], tmp_path / "broken.json")
