"""`vlp zero-shot`: CLIP-style classification from prompts, checked against embeddings computed one text and one image
at a time, with the cross-encoder's re-ranking and the named errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.data.conftest import FEATURE_DIM, bert_vocab, demo_data
from tests.model.factories import randomize_, tiny
from vlp.cli.main import main as vlp_main
from vlp.cli.zero_shot import read_labels
from vlp.convert.base import VLBundle
from vlp.convert.folder import load_pretrained, write_folder
from vlp.data import WordPieceTokenizer
from vlp.data.padding import pad_regions
from vlp.data.regions import RegionReader
from vlp.model.heads import ClassificationHead, EmbeddingProjection
from vlp.model.inputs import TextInputs
from vlp.world import tokenize_caption

__all__ = ["demo_data"]
CLASSES = ["circle", "square", "triangle", "star", "diamond", "hexagon", "cross"]
TEMPLATES = ["a photo of a {}.", "a drawing of the {} shape"]


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    config = tiny(vocab_size=30522, region_feature_dim=FEATURE_DIM, initializer_range=1.0)
    heads = {
        "itm": ClassificationHead(config.hidden_size, 2),
        "text_projection": EmbeddingProjection(config.hidden_size, 16),
        "image_projection": EmbeddingProjection(config.hidden_size, 16),
    }
    bundle = randomize_(VLBundle(VLBundle.create(config).model, heads), seed=5)
    folder = tmp_path / "model"
    write_folder(bundle, folder, tokenizer_from=bert_vocab())
    return folder


def files(tmp_path: Path) -> tuple[Path, Path]:
    classes, templates = tmp_path / "classes.txt", tmp_path / "templates.txt"
    classes.write_text("\n".join(CLASSES) + "\n")
    templates.write_text("\n".join(TEMPLATES) + "\n")
    return classes, templates


@torch.no_grad()
def reference_top(folder: Path, store: Path, image_ids: list[str]) -> list[str]:
    """Each image's best class, from one text and one image per forward pass."""
    bundle, tokenizer = load_pretrained(folder), WordPieceTokenizer(folder)
    classes = []
    for name in CLASSES:
        embedded = []
        for template in TEMPLATES:
            pair = tokenizer.encode_pair(tokenize_caption(template.format(name)), None, 70)
            embedded.append(
                bundle.model.encode_text(TextInputs(torch.tensor([pair.input_ids])), bundle.heads["text_projection"])[0]
            )
        classes.append(torch.nn.functional.normalize(torch.stack(embedded).mean(dim=0), dim=0))
    reader = RegionReader(50, "oscar")
    best = []
    for image_id in image_ids:
        regions = pad_regions([reader.read(str(store), image_id)])
        regions.labels = None
        image = bundle.model.encode_image(regions, bundle.heads["image_projection"])[0]
        best.append(CLASSES[int(torch.stack(classes).matmul(image).argmax())])
    return best


def test_zero_shot_matches_one_at_a_time_embeddings_and_scores_labels(demo_data, model_folder, tmp_path, capsys):
    classes, templates = files(tmp_path)
    labels_file = demo_data.world.instances["test"]
    labels = read_labels(labels_file)
    output = tmp_path / "predictions.json"
    argv = ["zero-shot", f"--model={model_folder}", f"--store={demo_data.store}", f"--classes={classes}"]
    argv += [f"--templates={templates}", f"--labels={labels_file}", f"--output={output}", "--batch-size=3"]
    assert vlp_main(argv) == 0
    predictions = json.loads(output.read_text())
    image_ids = [str(entry["image_id"]) for entry in predictions]
    assert sorted(image_ids) == sorted(labels)
    assert [entry["classes"][0] for entry in predictions] == reference_top(model_folder, demo_data.store, image_ids)
    top1 = sum(entry["classes"][0] == labels[str(entry["image_id"])] for entry in predictions) / len(predictions)
    top5 = sum(labels[str(entry["image_id"])] in entry["classes"] for entry in predictions) / len(predictions)
    out = capsys.readouterr().out
    assert f"top-1 accuracy {100 * top1:.2f}" in out and f"top-5 accuracy {100 * top5:.2f}" in out
    # Re-ranking with the cross-encoder reorders each image's top 3 among themselves only.
    reranked = tmp_path / "reranked.json"
    assert vlp_main([*argv[:-2], f"--output={reranked}", "--rerank=3"]) == 0
    for plain, again in zip(predictions, json.loads(reranked.read_text()), strict=True):
        assert set(plain["classes"][:3]) == set(again["classes"][:3]) and plain["classes"][3:] == again["classes"][3:]


def test_coco_labels_are_the_largest_object_and_tab_files_are_read(demo_data, tmp_path):
    instances = json.loads(demo_data.world.instances["test"].read_text())
    names = {c["id"]: c["name"] for c in instances["categories"]}
    image = instances["annotations"][0]["image_id"]
    largest = max((a for a in instances["annotations"] if a["image_id"] == image), key=lambda a: a["area"])
    assert read_labels(demo_data.world.instances["test"])[str(image)] == names[largest["category_id"]]
    tab = tmp_path / "labels.tsv"
    tab.write_text("12\tcircle\n13\tstar\n")
    assert read_labels(tab) == {"12": "circle", "13": "star"}
    tab.write_text("12 circle\n")
    with pytest.raises(ValueError, match=r"labels.tsv:1: expected image_id<TAB>label"):
        read_labels(tab)


def test_models_without_embeddings_and_unknown_labels_are_one_line_errors(demo_data, tmp_path, capsys):
    classes, _ = files(tmp_path)
    folder = tmp_path / "plain"
    write_folder(VLBundle.create(tiny(vocab_size=30522, region_feature_dim=FEATURE_DIM)), folder, bert_vocab())
    assert vlp_main(["zero-shot", f"--model={folder}", f"--store={demo_data.store}", f"--classes={classes}"]) == 1
    assert "no text_projection or image_projection head" in capsys.readouterr().err
    labels = tmp_path / "labels.tsv"
    labels.write_text("1\tpentagon\n")
    argv = [
        "zero-shot",
        f"--model={folder}",
        f"--store={demo_data.store}",
        f"--classes={classes}",
        f"--labels={labels}",
    ]
    assert vlp_main(argv) == 1
    error = capsys.readouterr().err
    assert "labels that" in error and "pentagon" in error and len(error.strip().splitlines()) == 1
