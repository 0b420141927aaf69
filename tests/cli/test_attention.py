"""`vlp attention`: the picture of a model's cross-modal attention on one image of the demo world, the word-to-region
summary it prints against the probabilities computed directly, and its named errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.cli.test_zero_shot import model_folder
from tests.config_runs import environment
from tests.data.conftest import demo_data
from tests.finetune.test_vqa_configs import data_tree
from vlp.cli.attention import find_image
from vlp.cli.main import main as vlp_main
from vlp.convert.folder import load_pretrained
from vlp.data import WordPieceTokenizer
from vlp.data.padding import pad_regions
from vlp.data.regions import RegionReader
from vlp.model.attention_maps import attention_probabilities
from vlp.model.inputs import TextInputs
from vlp.world import tokenize_caption

__all__ = ["data_tree", "demo_data", "environment", "model_folder"]
TEXT = "a red circle above a small square"


def first_test_image(demo_data) -> dict:
    return json.loads(demo_data.world.instances["test"].read_text())["images"][0]


def test_draws_the_picture_and_prints_each_words_most_attended_region(demo_data, model_folder, tmp_path, capsys):
    image = first_test_image(demo_data)
    image_id = str(image["id"])
    out = tmp_path / "maps" / "attention.png"
    argv = ["attention", f"--model={model_folder}", f"--store={demo_data.store}", f"--image-id={image_id}"]
    argv += [f"--text={TEXT}", f"--out={out}", f"--image-root={demo_data.world.image_dir}", "--head=1", "--layer=0"]
    assert vlp_main(argv) == 0
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.width > picture.height > 200  # three panels side by side
    # The printed argmax of each caption piece, against head 1 of layer 0 computed here.
    bundle, tokenizer = load_pretrained(model_folder), WordPieceTokenizer(model_folder)
    regions = RegionReader(50, "oscar").read(str(demo_data.store), image_id)
    encoded = tokenizer.encode_pair(tokenize_caption(TEXT), regions.tag_words, 70)
    padded = pad_regions([regions])
    padded.labels = None
    probabilities = attention_probabilities(
        bundle.model, TextInputs(torch.tensor([encoded.input_ids]), torch.tensor([encoded.token_type_ids])), padded, 0
    )[0, 1]
    words = len(tokenize_caption(TEXT))
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"attention map written to {out}"
    caption_positions = range(1, 1 + words)  # every word here is one piece of the BERT vocabulary
    for line, position in zip(lines[:-1], caption_positions, strict=True):
        row = probabilities[position, len(encoded.input_ids) :]
        best = int(row.argmax())
        assert line.split()[0] == tokenizer.tokens([encoded.input_ids[position]])[0]
        assert f"-> region {best} " in line and line.endswith(f"({float(row[best]):.2f})")


def test_without_an_image_it_draws_the_two_heat_maps(demo_data, model_folder, tmp_path):
    out = tmp_path / "attention.png"
    image_id = str(first_test_image(demo_data)["id"])
    argv = ["attention", f"--model={model_folder}", f"--store={demo_data.store}", f"--image-id={image_id}"]
    assert vlp_main([*argv, f"--text={TEXT}", f"--out={out}"]) == 0
    with Image.open(out) as picture:
        assert picture.format == "PNG"


def test_find_image_knows_coco_names_and_plain_ids(tmp_path):
    (tmp_path / "val").mkdir()
    coco = tmp_path / "val" / "COCO_val2014_000000000042.jpg"
    plain = tmp_path / "cat_7.png"
    for path in (coco, plain, tmp_path / "notes.txt"):
        path.write_bytes(b"")
    assert find_image(tmp_path, "42") == coco
    assert find_image(tmp_path, "cat_7") == plain
    with pytest.raises(ValueError, match="no file named by image id '43'"):
        find_image(tmp_path, "43")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--image-id=no-such-image"], "no-such-image"),
        (["--head=99"], "--head 99 is out of range"),
        (["--layer=9"], "layer 9 is out of range"),
        (["--image=missing.png"], "missing.png: no such image file"),
    ],
)
def test_bad_input_is_named(demo_data, model_folder, tmp_path, capsys, extra: list[str], message: str):
    image_id = str(first_test_image(demo_data)["id"])
    argv = ["attention", f"--model={model_folder}", f"--store={demo_data.store}", f"--image-id={image_id}"]
    assert vlp_main([*argv, f"--text={TEXT}", f"--out={tmp_path / 'a.png'}", *extra]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()


def test_on_the_demo_models_architecture_with_attribute_tags(environment, tmp_path, capsys):
    """The demo's pretrained folder layout (8 heads, its own word-piece vocabulary) with the demo's attribute tags."""
    model = Path(environment["VLP_DEMO_DIR"]) / "pretrain/oscar/pretrained"
    world = Path(environment["VLP_DEMO_DIR"]) / "world"
    image_id = str(json.loads((world / "annotations/instances_test.json").read_text())["images"][0]["id"])
    out = tmp_path / "demo_attention.png"
    argv = ["attention", f"--model={model}", f"--store={environment['VLP_DEMO_STORE']}", f"--image-id={image_id}"]
    argv += [f"--text={TEXT}", f"--out={out}", f"--image-root={world / 'images'}", "--tag-attributes", "--head=7"]
    assert vlp_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"attention map written to {out}" and out.is_file()
    # The tags lead with each region's attributes, so region labels read "<index> <attributes...> <tag>".
    assert all(" -> region " in line for line in lines[:-1]) and len(lines) > 1
    assert vlp_main([*argv[:-1], "--head=8"]) == 1
    assert "--head 8 is out of range: the model has 8 heads" in capsys.readouterr().err
