"""Whole runs through the `extract-features run` command: the demo world, bad files, resume, shards, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torchvision
from PIL import Image

from features.cli import main
from features.failures import read_failures
from tests.features.images import pattern, write_bad_files, write_coco, write_modes
from tests.features.runs import CONFIG, assert_same_store, extract
from vlp.store import RegionStore


@pytest.fixture(scope="module")
def world_store(world, resnet18_weights, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("world_store") / "feats.h5"
    instances = list(world.instances.values())
    assert extract(instances, output, image_root=world.image_dir, weights=resnet18_weights) == 0
    return output


def test_the_demo_world_is_extracted_with_its_boxes_and_attributes(world, world_store):
    expected = {}
    for path in world.instances.values():
        data = json.loads(path.read_text())
        for image in data["images"]:
            expected[str(image["id"])] = []
        names = {c["id"]: c["name"] for c in data["categories"]}
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            expected[str(a["image_id"])].append(([x, y, x + w, y + h], names[a["category_id"]], a["attributes"]))
    with RegionStore(world_store) as store:
        check_world_entries(store, expected, world.image_size)
    assert read_failures(world_store.with_name("feats.failures.jsonl")) == []


def check_world_entries(store: RegionStore, expected: dict, side: int) -> None:
    assert sorted(store.image_ids) == sorted(expected)
    for image_id, regions in expected.items():
        entry = store[image_id]
        assert entry.image_size == (side, side)
        np.testing.assert_array_equal(entry.boxes[:-1], [r[0] for r in regions])
        np.testing.assert_array_equal(entry.boxes[-1], [0, 0, side, side])
        assert entry.label_names == [r[1] for r in regions] + ["image"]
        assert entry.attribute_names == [r[2] for r in regions] + [[]]
        assert entry.features.shape == (len(regions) + 1, 512)
    assert store.provenance["backend"] == "given-boxes" and store.provenance["decode"]["max_side"] == 2048


def test_a_second_run_resumes_and_changed_settings_are_refused(world, world_store, resnet18_weights, capsys):
    instances = list(world.instances.values())
    copy = world_store.with_name("copy.h5")
    copy.write_bytes(world_store.read_bytes())
    assert extract(instances, world_store, image_root=world.image_dir, weights=resnet18_weights) == 0
    with RegionStore(copy) as before, RegionStore(world_store) as after:
        assert f"0 extracted, {len(before)} already in the store" in capsys.readouterr().out
        assert_same_store(before, after)
    code = extract(instances, world_store, "backend.init_args.pooled_size=5", image_root=world.image_dir)
    assert code == 2
    assert "provenance differs in pooled_size, weights" in capsys.readouterr().err


def test_shards_read_as_one_equal_a_single_run(world, world_store, resnet18_weights, tmp_path):
    instances = list(world.instances.values())
    sharded = tmp_path / "sharded.h5"
    for index in range(2):
        flags = ["--shard-index", str(index), "--shard-count", "2"]
        assert extract(instances, sharded, *flags, image_root=world.image_dir, weights=resnet18_weights) == 0
    files = sorted(p.name for p in tmp_path.glob("sharded.*.h5"))
    assert files == ["sharded.00000-of-00002.h5", "sharded.00001-of-00002.h5"]
    assert all(len(RegionStore(tmp_path / f)) for f in files)  # both shards hold images
    with RegionStore(sharded) as store, RegionStore(world_store) as single:
        assert_same_store(store, single)


def test_bad_files_are_listed_and_every_image_mode_is_extracted(tmp_path, resnet18_weights, capsys):
    good = write_modes(tmp_path / "images")
    bad = write_bad_files(tmp_path / "images")
    large = tmp_path / "images" / "large.jpg"
    Image.fromarray(pattern(900, 1400)).save(large)
    files = [*good.values(), *bad.values(), large]
    images = [(i, p.name, 40, 56) for i, p in enumerate(files)]
    coco = write_coco(tmp_path / "instances.json", images, {0: [(5, 5, 20, 20, "thing", ["red"])]})
    output = tmp_path / "feats.h5"
    assert extract([coco], output, "decode.max_side=256", image_root=tmp_path / "images", weights=resnet18_weights) == 0
    store = RegionStore(output)
    good_ids = {str(i) for i, p in enumerate(files) if p in good.values() or p == large}
    assert set(store.image_ids) == good_ids
    assert store[str(len(files) - 1)].image_size == (900, 1400)  # decoded at 256 px, stored at its size
    failures = read_failures(tmp_path / "feats.failures.jsonl")
    assert {f["path"] for f in failures} == {str(p) for p in bad.values()}
    reasons = {Path(f["path"]).name: f["reason"] for f in failures}
    assert reasons["empty.jpg"] == "empty file (0 bytes)" and reasons["notes.png"].startswith("not an image")
    out = capsys.readouterr().out
    assert f"{len(good_ids)} extracted" in out and f"{len(bad)} failed" in out and "boxes per image" in out


def test_duplicate_ids_and_unknown_keys_are_refused(tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("a.png\nsub/../a.png\ta\n")
    argv = ["run", "--config", CONFIG, "--input", str(listing), "--output", str(tmp_path / "x.h5")]
    assert main([*argv, "backend.init_args.annotations=x.json"]) == 2
    assert "duplicate image id(s): 'a'" in capsys.readouterr().err
    assert main([*argv, "run.batchsize=2", "backend.init_args.colour=red", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown key bogus" in err and "unknown key run.batchsize" in err
    assert "unknown key backend.init_args.colour" in err
    assert not (tmp_path / "x.h5").exists()


def test_print_config_shows_the_resolved_settings(tmp_path, capsys):
    argv = ["run", "--config", CONFIG, "--input", "in.json", "--output", "o.h5", "--device", "cpu", "--print-config"]
    assert main([*argv, "run.batch_size=3"]) == 0
    printed = capsys.readouterr().out
    assert "annotations: in.json" in printed and "batch_size: 3" in printed and "device: cpu" in printed


def test_a_torchvision_detector_through_the_command(tmp_path, detector_weights, capsys):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(pattern(60, 90, 1)).save(folder / "a.jpg")
    Image.fromarray(pattern(80, 50, 2)).convert("L").save(folder / "sub" / "b.png")
    argv = ["run", "--config", "configs/features/torchvision_frcnn.yaml", "--input", str(folder)]
    argv += ["--output", str(tmp_path / "det.h5"), "run.num_workers=1", "run.progress=none", "run.device=cpu"]
    argv += [
        "backend.init_args.model=fasterrcnn_mobilenet_v3_large_320_fpn",
        f"backend.init_args.weights={detector_weights}",
    ]
    # No detection of random weights reaches 1.01: every image gets its 3 best boxes.
    argv += ["backend.init_args.min_size=96", "backend.init_args.score_threshold=1.01", "backend.init_args.min_boxes=3"]
    assert main(argv) == 0
    assert main(argv) == 0  # resumes: the store's vocabulary (COCO names, "N/A" once) matches the backend's again
    assert "0 extracted, 2 already in the store" in capsys.readouterr().out
    coco = torchvision.models.get_model_weights("fasterrcnn_resnet50_fpn").COCO_V1.meta["categories"]
    with RegionStore(tmp_path / "det.h5") as store:
        assert sorted(store.image_ids) == ["a", "sub/b"] and store.feature_dim == 1024
        for image_id, (height, width) in (("a", (60, 90)), ("sub/b", (80, 50))):
            entry = store[image_id]
            assert entry.image_size == (height, width) and entry.num_regions == 3
            assert set(entry.label_names) <= set(coco)
            assert (entry.boxes >= -1e-3).all() and (entry.boxes[:, [0, 2]] <= width + 1e-3).all()
        assert store.provenance["features"] == "box_head" and store.provenance["min_boxes"] == 3
