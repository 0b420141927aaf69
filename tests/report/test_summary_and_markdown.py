"""Stage summaries (margins as differences and as factors, the json round trip, named errors) and the report's
markdown (its summary table and relative picture links)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlp.report import StageSummary, read_summaries
from vlp.report.examples import ImageExamples
from vlp.report.markdown import Picture, StageRun, summary_table, write_report

VQA = StageSummary(
    "vqa", "VQA accuracy", 61.5, {"shuffled": 38.0, "prior": 47.25}, required_margin=10.0, details={"yes/no": 70.25}
)
CAPTIONS = StageSummary("captioning", "CIDEr-D", 0.9, {"shuffled": 0.3}, required_margin=2.0, ratio=True)
ZERO_SHOT = StageSummary("zero-shot", "top-1", 20.0, {"chance": 14.3}, required_margin=1.5, ratio=True)


def test_margins_are_over_the_best_control():
    assert VQA.best_control == 47.25 and VQA.margin == pytest.approx(14.25) and VQA.passed
    assert VQA.margin_text() == "+14.25"
    assert CAPTIONS.margin == pytest.approx(3.0) and CAPTIONS.passed and CAPTIONS.margin_text() == "3.00x"
    assert ZERO_SHOT.margin == pytest.approx(20.0 / 14.3) and not ZERO_SHOT.passed


def test_summaries_round_trip_and_are_found_by_stage(tmp_path: Path):
    VQA.save(tmp_path / "finetune" / "vqa")
    CAPTIONS.save(tmp_path / "finetune" / "captioning")
    ZERO_SHOT.save(tmp_path / "finetune" / "retrieval")
    # A run `vlp demo --full` nests in the folder (sorted after `finetune/`) is not this run's stage.
    nested = StageSummary("vqa", "VQA accuracy", 47.5, {"shuffled": 47.25}, required_margin=10.0)
    nested.save(tmp_path / "full" / "vqa_shuffled_seed0" / "finetune" / "vqa")
    found = read_summaries(tmp_path)
    assert found == {"vqa": VQA, "captioning": CAPTIONS, "zero-shot": ZERO_SHOT}
    (tmp_path / "finetune" / "vqa" / "demo_summary.vqa.json").write_text('{"stage": "vqa"}')
    with pytest.raises(ValueError, match=r"demo_summary.vqa.json: not a demo stage summary"):
        read_summaries(tmp_path)


def test_summary_table_has_a_row_per_result_and_the_total_time():
    stages = [
        StageRun("world", "the world", 8.0, reused=True),
        StageRun("vqa", "VQA finetuning", 200.0),
        StageRun("retrieval", "retrieval", 125.0),
    ]
    retrieval = StageSummary("retrieval", "mean R@1", 60.0, {"shuffled": 2.0}, required_margin=3.0, ratio=True)
    rows = summary_table(stages, {"vqa": VQA, "retrieval": retrieval, "zero-shot": ZERO_SHOT})
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]
    assert cells[0] == ["world", "the world", "", "", "", "", "8 s (reused)"]
    assert cells[1] == ["vqa", "VQA accuracy", "61.50", "shuffled 38.00, prior 47.25", "+14.25", "yes", "3 min 20 s"]
    assert cells[2][:6] == ["retrieval", "mean R@1", "60.00", "shuffled 2.000", "30.00x", "yes"]
    assert cells[3] == ["zero-shot", "top-1", "20.00", "chance 14.30", "1.40x", "no (needs 1.5x)", ""]
    # Reused stages took no time in this run; their earlier time is apart.
    assert cells[4] == ["**all**", "", "", "", "", "", "**5 min 25 s** + 8 s reused"]


def test_the_report_links_its_pictures_relative_to_itself_and_names_failed_stages(tmp_path: Path):
    curve = Picture(tmp_path / "report" / "pretrain_curves.png", "Pretraining", "It learns.")
    example = ImageExamples("42", answers=[("how many?", "2", "3")], caption="a red star", references=["a star"])
    example.retrieved = [("a star", True), ("a circle", False)]
    path = write_report(
        tmp_path / "report.md",
        [StageRun("vqa", "VQA", 1.0)],
        {"vqa": VQA, "zero-shot": ZERO_SHOT},
        [curve],
        [example],
        {"42": tmp_path / "report" / "images" / "42.png"},
        Picture(tmp_path / "report" / "attention.png", "Attention"),
        header=["Run folder x."],
    )
    text = path.read_text()
    assert "**Below the required margin: zero-shot.**" in text and "- vqa: yes/no 70.25" in text
    assert "![Pretraining](report/pretrain_curves.png)" in text and "It learns." in text
    assert "![image 42 with its regions](report/images/42.png)" in text
    assert "| how many? | 2 | 3 |" in text and "**Generated caption:** a red star" in text
    assert "1. ✓ a star\n2. a circle" in text and "![Attention](report/attention.png)" in text
