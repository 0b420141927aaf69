"""`vlp eval retrieval`: recall of a rankings file against a naive count per fold, and named errors for bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.metrics.test_retrieval_recall import naive_recall
from vlp.cli.main import main as vlp_main


def split_file(path: Path, images: int = 8, per_image: int = 3) -> Path:
    """A Karpathy-layout file with `images` test images (COCO ids 100, 101, ...), `per_image` captions each, and one
    train image."""
    entries, sentid = [], 1000
    for number in range(images + 1):
        sentences = [{"raw": f"caption {number} {k}", "sentid": sentid + k} for k in range(per_image)]
        split = "test" if number < images else "train"
        entries.append(
            {
                "split": split,
                "cocoid": 100 + number,
                "filename": f"{number}.jpg",
                "sentids": [s["sentid"] for s in sentences],
                "sentences": sentences,
            }
        )
        sentid += per_image
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path


def rankings_of(scores: np.ndarray, folds: int, per_image: int = 3) -> dict[str, list[dict[str, object]]]:
    """Rankings within each fold of a score matrix [images, captions] (caption c of image c // per_image)."""
    images, captions = scores.shape
    fold_images = images // folds
    result: dict[str, list[dict[str, object]]] = {"image_to_text": [], "text_to_image": []}
    for image in range(images):
        fold = image // fold_images
        candidates = [c for c in range(captions) if c // per_image // fold_images == fold]
        ranked = sorted(candidates, key=lambda c: (-scores[image, c], c))[:10]
        result["image_to_text"].append({"image_id": 100 + image, "caption_ids": [1000 + c for c in ranked]})
    for caption in range(captions):
        fold = caption // per_image // fold_images
        candidates = [i for i in range(images) if i // fold_images == fold]
        ranked = sorted(candidates, key=lambda i: (-scores[i, caption], i))[:10]
        result["text_to_image"].append({"caption_id": 1000 + caption, "image_ids": [100 + i for i in ranked]})
    return result


@pytest.mark.parametrize("folds", [1, 2])
def test_recall_of_a_rankings_file_is_the_naive_count_averaged_over_folds(tmp_path, capsys, folds):
    split = split_file(tmp_path / "dataset_coco.json", images=8)
    scores = np.round(np.random.default_rng(folds).normal(size=(8, 24)), 1)
    scores[np.arange(24) // 3, np.arange(24)] += 1.0
    results = tmp_path / "rankings.json"
    results.write_text(json.dumps(rankings_of(scores, folds)))
    output = tmp_path / "recall.json"
    argv = ["eval", "retrieval", f"--split-file={split}", f"--results={results}", f"--folds={folds}"]
    assert vlp_main([*argv, f"--output={output}"]) == 0
    recall = json.loads(output.read_text())
    fold_images = 8 // folds
    for k in (1, 5, 10):
        per_fold = [
            naive_recall(
                scores[f * fold_images : (f + 1) * fold_images, f * fold_images * 3 : (f + 1) * fold_images * 3],
                np.arange(fold_images * 3) // 3,
                k,
            )
            for f in range(folds)
        ]
        assert recall[f"image_to_text/R@{k}"] == pytest.approx(np.mean([i for i, _ in per_fold]), abs=1e-3)
        assert recall[f"text_to_image/R@{k}"] == pytest.approx(np.mean([t for _, t in per_fold]), abs=1e-3)
    assert recall["rsum"] == pytest.approx(sum(v for name, v in recall.items() if name != "rsum"), abs=1e-2)
    assert "rsum" in capsys.readouterr().out


def broken(rankings: dict, change) -> dict:
    change(rankings)
    return rankings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["image_to_text"][0]["caption_ids"].append(5), r"image 100 ranks captions outside its split.*: 5"),
        (lambda r: r["image_to_text"].pop(3), r"image_to_text has no ranking for queries.*: 103"),
        (lambda r: r["text_to_image"].append({"caption_id": 1, "image_ids": []}), r"does not have: 1$"),
        (lambda r: r["text_to_image"][2].pop("image_ids"), r"text_to_image\[2\] \(caption 1002\) has no 'image_ids'"),
        (lambda r: r.pop("text_to_image"), r"is not a retrieval rankings text_to_image file"),
        (lambda r: r["image_to_text"].append(dict(r["image_to_text"][0])), r"ranks image 100 a second time"),
        (
            lambda r: r["text_to_image"][0]["image_ids"].append(107),
            r"caption 1000 ranks images outside its .*fold.*107",
        ),
    ],
)
def test_bad_rankings_are_named(tmp_path, capsys, change, message):
    split = split_file(tmp_path / "dataset_coco.json", images=8)
    results = tmp_path / "rankings.json"
    results.write_text(json.dumps(broken(rankings_of(np.zeros((8, 24)), 2), change)))
    assert vlp_main(["eval", "retrieval", f"--split-file={split}", f"--results={results}", "--folds=2"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("vlp eval retrieval: error:") and len(error.splitlines()) == 1
    assert re.search(message, error), error


def test_unreadable_files_and_uneven_folds_are_named(tmp_path, capsys):
    split = split_file(tmp_path / "dataset_coco.json", images=8)
    results = tmp_path / "rankings.json"
    results.write_text("{not json")
    assert vlp_main(["eval", "retrieval", f"--split-file={split}", f"--results={results}"]) == 1
    assert "rankings.json is not valid JSON" in capsys.readouterr().err
    assert vlp_main(["eval", "retrieval", f"--split-file={split}", f"--results={results}", "--folds=3"]) == 1
    assert "8 images do not split into 3 folds" in capsys.readouterr().err
