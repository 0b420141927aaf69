"""The world's folder: layout, determinism, the guard against mixing worlds, argument checks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.world.conftest import IMAGE_SIZE, NUM_IMAGES
from vlp.world import SPLITS, WorldFiles, generate_world


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_identical_bytes(world_files: WorldFiles, twin_root: Path) -> None:
    hashes = _hashes(world_files.root)
    assert len(hashes) == NUM_IMAGES + 1 + 1 + 5 * len(SPLITS)  # images, manifest, Karpathy, five kinds per split
    assert hashes == _hashes(twin_root)


def test_bytes_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """A fresh interpreter with another hash seed writes the same bytes (no set or hash order leaks into output)."""
    generate_world(tmp_path / "here", num_images=5, seed=2, image_size=32)
    code = "import sys, pathlib, vlp.world as w; w.generate_world(pathlib.Path(sys.argv[1]), 5, seed=2, image_size=32)"
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "there")],
        check=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert _hashes(tmp_path / "here") == _hashes(tmp_path / "there")


def test_other_seed_gives_other_files(world_files: WorldFiles, other_seed_root: Path) -> None:
    ours, theirs = _hashes(world_files.root), _hashes(other_seed_root)
    jsons = [name for name in ours if name.endswith(".json")]
    assert all(ours[name] != theirs[name] for name in jsons)
    ours_images = {digest for name, digest in ours.items() if name.endswith(".png")}
    theirs_images = {digest for name, digest in theirs.items() if name.endswith(".png")}
    assert not ours_images & theirs_images


def test_every_path_exists_and_every_json_parses(world_files: WorldFiles) -> None:
    paths = [world_files.karpathy, world_files.manifest]
    for per_split in (
        world_files.instances,
        world_files.captions,
        world_files.vqa_questions,
        world_files.vqa_annotations,
        world_files.scene_graphs,
    ):
        assert tuple(per_split) == SPLITS
        paths += per_split.values()
    for path in paths:
        assert path.is_file() and path.is_relative_to(world_files.root)
        json.loads(path.read_text())
    assert world_files.image_dir.is_dir()


def test_images_are_pngs_of_the_asked_size(world_files: WorldFiles) -> None:
    pngs = sorted(world_files.image_dir.glob("COCO_synth_*.png"))
    assert len(pngs) == NUM_IMAGES == sum(world_files.num_images.values())
    for path in pngs[:5]:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (IMAGE_SIZE, IMAGE_SIZE))


def test_counts_match_the_files(world_files: WorldFiles) -> None:
    for split in SPLITS:
        instances = json.loads(world_files.instances[split].read_text())
        questions = json.loads(world_files.vqa_questions[split].read_text())
        captions = json.loads(world_files.captions[split].read_text())
        assert world_files.num_images[split] == len(instances["images"]) >= 1
        assert world_files.num_objects[split] == len(instances["annotations"])
        assert world_files.num_captions[split] == len(captions["annotations"])
        assert world_files.num_questions[split] == len(questions["questions"])
    assert world_files.num_images["train"] == 40  # 80/10/10


def test_describe_lists_files_and_counts(world_files: WorldFiles) -> None:
    text = world_files.describe()
    assert "annotations/instances_train.json" in text and "vqa/v2_mscoco_test_annotations.json" in text
    assert f"{NUM_IMAGES} images" in text and str(world_files.num_questions["train"]) in text


def test_regenerating_with_same_arguments_overwrites(tmp_path: Path) -> None:
    generate_world(tmp_path, num_images=3, seed=5, image_size=32)
    before = _hashes(tmp_path)
    files = generate_world(tmp_path, num_images=3, seed=5, image_size=32)
    assert _hashes(tmp_path) == before
    assert files.num_images == {"train": 1, "val": 1, "test": 1}


@pytest.mark.parametrize("changed", [{"seed": 6}, {"image_size": 40}, {"num_images": 4}])
def test_a_different_world_in_the_same_folder_is_refused(tmp_path: Path, changed: dict[str, int]) -> None:
    arguments = {"num_images": 3, "seed": 5, "image_size": 32}
    generate_world(tmp_path, **arguments)
    (key,) = changed
    with pytest.raises(FileExistsError, match=key):
        generate_world(tmp_path, **(arguments | changed))


def test_a_foreign_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        generate_world(tmp_path, num_images=3)


@pytest.mark.parametrize(("num_images", "image_size"), [(2, 64), (10, 16)])
def test_bad_arguments_are_refused(tmp_path: Path, num_images: int, image_size: int) -> None:
    with pytest.raises(ValueError):
        generate_world(tmp_path, num_images=num_images, image_size=image_size)
