"""Looking at a store: the summary against counts made here from the written entries, and drawn boxes on PNGs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from features.cli import main
from features.draw import _colour
from features.summary import summarize
from tests.features.images import pattern
from vlp.store import RegionStoreWriter, shard_path

LABELS = ["cat", "dog", "bird"]
ROOT = Path(__file__).resolve().parents[2]


def entries(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    made = []
    for i in range(count):
        k = int(rng.integers(1, 6))
        made.append(
            {
                "image_id": f"{seed}-{i}",
                "image_size": (60, 80),
                "features": rng.normal(size=(k, 8)).astype(np.float32),
                "boxes": np.tile(np.array([[10, 10, 50, 40]], np.float32), (k, 1)),
                "scores": rng.uniform(size=k).astype(np.float32),
                "labels": [LABELS[j] for j in rng.integers(0, 3, k)],
                "attributes": [["red"] * int(j) for j in rng.integers(0, 3, k)],
            }
        )
    return made


def write_shards(path, shards: list[list[dict]]) -> None:
    for index, shard in enumerate(shards):
        target = shard_path(path, index, len(shards))
        with RegionStoreWriter(target, 8, provenance={"backend": "test"}, max_attributes_per_region=2) as writer:
            for entry in shard:
                writer.add(**entry)


def test_summary_counts_match_the_entries(tmp_path, capsys):
    shards = [entries(0, 7), entries(1, 5)]
    write_shards(tmp_path / "feats.h5", shards)
    summary = summarize(tmp_path / "feats.h5")
    written = [e for shard in shards for e in shard]
    counts = [len(e["labels"]) for e in written]
    assert summary.images == 12 and summary.regions == sum(counts) and summary.feature_dim == 8
    assert summary.boxes_per_image.tolist() == counts
    assert summary.labels == Counter(label for e in written for label in e["labels"])
    assert summary.attributes == Counter({"red": sum(len(a) for e in written for a in e["attributes"])})
    assert len(summary.provenances) == 1 and len(summary.provenances[0][1]) == 2
    assert main(["inspect", str(tmp_path / "feats.h5"), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "images: 12" in out and f"max {max(counts)}" in out and '"backend": "test"' in out
    assert "labels (3 distinct, top 2)" in out


def draw_inputs(tmp_path) -> tuple:
    """A store of two images, the first with a 60 x 80 picture on disk; the store, its pixels and the draw command."""
    store = tmp_path / "feats.h5"
    write_shards(store, [entries(0, 2)])
    folder = tmp_path / "images"
    folder.mkdir()
    pixels = pattern(60, 80)
    Image.fromarray(pixels).save(folder / "0-0.png")
    return (
        store,
        pixels,
        ["draw", str(store), "--ids", "0-0", "0-1", "--images", str(folder), "--out", str(tmp_path / "out")],
    )


def test_draw_puts_boxes_and_tags_on_the_images(tmp_path, capsys):
    store, pixels, argv = draw_inputs(tmp_path)
    assert main(argv) == 0
    drawn = np.asarray(Image.open(tmp_path / "out" / "0-0.png").convert("RGB"))
    assert drawn.shape == pixels.shape
    # The left edge of the box (x = 10, below the tag) has the colour of one of its labels.
    edge = tuple(int(v) for v in drawn[35, 10])
    assert edge in {_colour(name) for name in LABELS}
    np.testing.assert_array_equal(drawn[55:, 60:], pixels[55:, 60:])  # away from the box the image is untouched
    grey = np.asarray(Image.open(tmp_path / "out" / "0-1.png").convert("RGB"))
    assert grey.shape == (60, 80, 3) and tuple(grey[55, 75]) == (128, 128, 128)  # not among the images: a canvas
    assert main(["draw", str(store), "--ids", "missing", "--out", str(tmp_path / "out")]) == 2
    assert "'missing' is not in the region store" in capsys.readouterr().err


def test_draw_enlarges_small_images_with_their_boxes(tmp_path):
    _, pixels, argv = draw_inputs(tmp_path)
    assert main([*argv, "--min-side", "250"]) == 0  # 80 -> 240: three times, in whole pixels
    drawn = np.asarray(Image.open(tmp_path / "out" / "0-0.png").convert("RGB"))
    assert drawn.shape == (180, 240, 3)
    assert tuple(int(v) for v in drawn[35 * 3, 10 * 3]) in {_colour(name) for name in LABELS}  # the box moved too
    np.testing.assert_array_equal(drawn[165:, 180:], pixels[55:, 60:].repeat(3, axis=0).repeat(3, axis=1))
    assert np.asarray(Image.open(tmp_path / "out" / "0-1.png")).shape[:2] == (180, 240)  # the grey canvas too


def test_draw_gives_ids_that_share_a_safe_name_their_own_files(tmp_path, capsys):
    store = tmp_path / "feats.h5"
    ids = ["猫", "犬", "a b", "a_b", "x/y", "x__y"]
    with RegionStoreWriter(store, 8, provenance={"backend": "test"}) as writer:
        for image_id, entry in zip(ids, entries(0, len(ids)), strict=True):
            writer.add(**(entry | {"image_id": image_id, "attributes": None}))
    assert main(["draw", str(store), "--ids", *ids, "--out", str(tmp_path / "out")]) == 0
    written = capsys.readouterr().out.split()
    assert len(set(written)) == len(ids) == len(list((tmp_path / "out").glob("*.png")))
    assert tmp_path / "out" / "a_b.png" == Path(written[3])  # a safe id keeps its plain name


def test_inspect_into_a_closed_pipe_ends_quietly(tmp_path):
    # 6,000 distinct labels print far more than a pipe buffers, so `head` closes the pipe while inspect still writes.
    with RegionStoreWriter(tmp_path / "feats.h5", 8, provenance={"backend": "test"}) as writer:
        for index in range(200):
            labels = [f"label-{index}-{k}" for k in range(30)]
            boxes = np.tile(np.array([[1, 1, 5, 5]], np.float32), (30, 1))
            features = np.zeros((30, 8), np.float32)
            writer.add(str(index), (10, 10), features, boxes, np.ones(30, np.float32), labels)
    command = f"{sys.executable} -m features.cli inspect {tmp_path / 'feats.h5'} --top 6000 | head -n 2"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    assert len(result.stdout.splitlines()) == 2
