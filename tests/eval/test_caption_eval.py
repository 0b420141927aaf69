"""`vlp eval caption` against the COCO caption toolkit's own evaluation (`COCOEvalCap`) on the same files, and its
errors for files that do not fit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vlp.cli.main import main

pytest.importorskip("pycocoevalcap")
pytestmark = pytest.mark.slow  # the PTB tokenizer and METEOR start Java

REFERENCES = {
    1: ["A red circle is left of a blue square.", "a red circle and a blue square", "Two shapes: a circle, a square"],
    2: ["A small green star above a triangle.", "a green star is above the triangle"],
    3: ["Three large blue squares.", "blue squares, three of them", "three big squares that are blue"],
}
CAPTIONS = {1: "a red circle left of a square", 2: "a green star", 3: "three blue squares are large"}


def write_files(folder: Path, references=REFERENCES, captions=CAPTIONS) -> tuple[Path, Path]:
    annotations = {
        "images": [{"id": image, "file_name": f"{image}.jpg"} for image in references],
        "annotations": [
            {"id": 10 * image + k, "image_id": image, "caption": caption}
            for image, refs in references.items()
            for k, caption in enumerate(refs)
        ],
    }
    (folder / "captions.json").write_text(json.dumps(annotations))
    (folder / "results.json").write_text(json.dumps([{"image_id": i, "caption": c} for i, c in captions.items()]))
    return folder / "captions.json", folder / "results.json"


def toolkit_scores(annotations: Path, results: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """COCOEvalCap's scores, SPICE left out (it cannot fetch its models offline)."""
    from pycocoevalcap import eval as toolkit
    from pycocotools.coco import COCO

    class NoSpice:
        def compute_score(self, gts, res):
            return 0.0, [0.0] * len(res)

        def method(self):
            return "SPICE"

    monkeypatch.setattr(toolkit, "Spice", NoSpice)
    coco = COCO(str(annotations))
    evaluation = toolkit.COCOEvalCap(coco, coco.loadRes(str(results)))
    evaluation.evaluate()
    return {name: value for name, value in evaluation.eval.items() if name != "SPICE"}


def test_scores_equal_the_toolkit_to_four_decimals(tmp_path, monkeypatch, capsys):
    annotations, results = write_files(tmp_path)
    expected = toolkit_scores(annotations, results, monkeypatch)
    capsys.readouterr()
    argv = ["eval", "caption", "--annotations", str(annotations), "--results", str(results), "--no-spice"]
    assert main([*argv, "--output", str(tmp_path / "scores.json")]) == 0
    written = json.loads((tmp_path / "scores.json").read_text())
    assert set(written) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"} == set(expected)
    for name, value in expected.items():
        assert written[name] == pytest.approx(value, abs=1e-4), name
    printed = capsys.readouterr().out
    assert "3 images" in printed and f"CIDEr    {expected['CIDEr']:.4f}" in printed


def test_spice_is_scored_or_left_out_with_a_note(tmp_path, capsys):
    annotations, results = write_files(tmp_path)
    assert main(["eval", "caption", "--annotations", str(annotations), "--results", str(results)]) == 0
    captured = capsys.readouterr()
    assert "SPICE" in captured.out or "note: SPICE left out" in captured.err


@pytest.mark.parametrize(
    ("captions", "expected"),
    [
        ({**CAPTIONS, 7: "a star"}, "captions image ids that .*captions.json does not have: 7"),
        ({1: CAPTIONS[1], 2: CAPTIONS[2]}, "has no caption for image ids of .*captions.json: 3"),
    ],
)
def test_unknown_and_missing_images_are_named(tmp_path, capsys, captions, expected):
    annotations, results = write_files(tmp_path, captions=captions)
    assert main(["eval", "caption", "--annotations", str(annotations), "--results", str(results)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vlp eval caption: error: ")
    assert re.search(expected, lines[0])


def test_malformed_files_are_named(tmp_path, capsys):
    annotations, results = write_files(tmp_path)
    results.write_text('[{"image_id": 1, "caption": 5}]')
    assert main(["eval", "caption", "--annotations", str(annotations), "--results", str(results)]) == 1
    assert f"{results}: results[0] (image_id 1) has caption 5, expected str" in capsys.readouterr().err
    results.write_text("[{")
    assert main(["eval", "caption", "--annotations", str(annotations), "--results", str(results)]) == 1
    assert f"{results} is not valid JSON" in capsys.readouterr().err
    annotations.write_text('{"images": []}')
    assert main(["eval", "caption", "--annotations", str(annotations), "--results", str(results)]) == 1
    assert f"{annotations} is not a COCO captions annotations file" in capsys.readouterr().err
