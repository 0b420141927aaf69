"""Which images an extraction takes and under which ids: folders, list files, COCO jsons, duplicates, shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from features.inputs import DuplicateImageIdError, ImageItem, list_images
from features.sharding import check_layout, plan_shards, select_shard, shard_of


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_ids_are_relative_paths_without_extension(tmp_path):
    for name in ("b.jpg", "a.PNG", "sub/deeper/c.jpeg", "notes.txt", ".hidden.jpg", ".cache/d.jpg"):
        touch(tmp_path / name)
    items = list_images(tmp_path)
    assert [i.image_id for i in items] == ["a", "b", "sub/deeper/c"]
    assert items[2].path == tmp_path / "sub/deeper/c.jpeg"


def test_list_file_with_optional_ids_relative_to_image_root(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# images\nx/one.jpg\n\nx/two.png\tsecond\n/abs/three.jpg\n")
    items = list_images(listing, image_root=tmp_path / "root")
    assert items == [
        ImageItem("x/one", tmp_path / "root/x/one.jpg"),
        ImageItem("second", tmp_path / "root/x/two.png"),
        ImageItem("/abs/three", Path("/abs/three.jpg")),
    ]
    assert list_images(listing)[0].path == tmp_path / "x/one.jpg"  # default root: the list file's folder


def test_coco_jsons_give_their_ids_and_concatenate(tmp_path):
    for split, ids in (("a", [7, 3]), ("b", [11])):
        images = [{"id": i, "file_name": f"{i:06d}.jpg"} for i in ids]
        (tmp_path / f"{split}.json").write_text(json.dumps({"images": images}))
    items = list_images([tmp_path / "a.json", tmp_path / "b.json"], image_root="/data")
    assert [(i.image_id, str(i.path)) for i in items] == [
        ("7", "/data/000007.jpg"),
        ("3", "/data/000003.jpg"),
        ("11", "/data/000011.jpg"),
    ]


def test_duplicate_ids_are_refused_naming_both_files(tmp_path):
    touch(tmp_path / "img.jpg")
    touch(tmp_path / "img.png")
    with pytest.raises(DuplicateImageIdError, match=r"'img' \(.*img.jpg and .*img.png\)"):
        list_images(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "x.jpg"}]}))
    with pytest.raises(DuplicateImageIdError, match="'1'"):
        list_images([tmp_path / "a.json", tmp_path / "a.json"])


def test_bad_sources_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")
    (tmp_path / "bad.json").write_text(json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="no `images` list"):
        list_images(tmp_path / "bad.json")


def test_shards_partition_the_images_by_id_alone():
    items = [ImageItem(str(i), Path(f"{i}.jpg")) for i in range(200)]
    shards = [select_shard(items, k, 3) for k in range(3)]
    assert sorted(i.image_id for s in shards for i in s) == sorted(i.image_id for i in items)
    assert all(40 < len(s) < 90 for s in shards)  # a hash spreads them evenly enough
    reversed_shards = [select_shard(items[::-1], k, 3) for k in range(3)]
    assert [set(s) for s in reversed_shards] == [set(s) for s in shards]  # listing order does not matter
    assert all(shard_of(i.image_id, 3) == k for k, s in enumerate(shards) for i in s)


def test_plan_numbers_shards_across_machines_and_processes():
    plans = plan_shards(shard_index=1, shard_count=2, processes=3, device="cpu")
    assert [(p.index, p.count, p.device, p.local_rank) for p in plans] == [
        (3, 6, "cpu", 0),
        (4, 6, "cpu", 1),
        (5, 6, "cpu", 2),
    ]
    assert plans[0].path("out/feats.h5") == Path("out/feats.00003-of-00006.h5")
    assert plan_shards(0, 1, 1, "cpu")[0].path("feats.h5") == Path("feats.h5")
    with pytest.raises(ValueError, match="shard_index"):
        plan_shards(2, 2, 1, "cpu")


def test_processes_spread_over_cuda_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [p.device for p in plan_shards(0, 1, 0, "auto")] == ["cuda:0", "cuda:1"]  # 0: one per GPU
    assert [p.device for p in plan_shards(0, 1, 3, "cuda")] == ["cuda:0", "cuda:1", "cuda:0"]
    assert [p.device for p in plan_shards(0, 1, 2, "cuda:1")] == ["cuda:1", "cuda:1"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert [p.device for p in plan_shards(0, 1, 0, "auto")] == ["cpu"]


def test_layout_check_refuses_mixing_shard_layouts(tmp_path):
    output = tmp_path / "feats.h5"
    touch(tmp_path / "feats.00000-of-00002.h5")
    check_layout(output, 2)
    with pytest.raises(ValueError, match="another shard layout"):
        check_layout(output, 1)
    with pytest.raises(ValueError, match="another shard layout"):
        check_layout(output, 3)
