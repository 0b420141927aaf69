"""TSV imports checked against dumps built here from known arrays, in the published layouts."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from features.cli import main
from features.importers.butd_tsv import BUTD_FIELDS, LXMERT_FIELDS
from features.importers.tsv import TsvFormatError
from features.importers.vinvl_tsv import VinvlTsv
from features.importers.writing import NO_LABEL
from vlp.store import RegionStore, box_geometry

OBJECTS = ["cat", "stop sign", "dog"]
ATTRIBUTES = ["black", "red"]


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def random_image(rng: np.random.Generator, count: int, dim: int = 2048) -> dict[str, np.ndarray | int]:
    height, width = int(rng.integers(200, 500)), int(rng.integers(200, 500))
    x1 = rng.uniform(0, width / 2, count)
    y1 = rng.uniform(0, height / 2, count)
    boxes = np.stack([x1, y1, x1 + rng.uniform(5, width / 2, count), y1 + rng.uniform(5, height / 2, count)], 1)
    return {
        "height": height,
        "width": width,
        "boxes": boxes.astype(np.float32),
        "features": rng.normal(size=(count, dim)).astype(np.float32),
        "objects": rng.integers(0, len(OBJECTS), count),
        "objects_conf": rng.uniform(0.2, 1, count).astype(np.float32),
        "attrs": rng.integers(0, len(ATTRIBUTES), count),
        "attrs_conf": rng.uniform(0, 1, count).astype(np.float32),
    }


def write_butd(path: Path, images: dict[str, dict], lxmert: bool) -> Path:
    """As bottom-up-attention's generate_tsv.py and LXMERT write them: csv.DictWriter, tab-delimited, no header."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, delimiter="\t", fieldnames=LXMERT_FIELDS if lxmert else BUTD_FIELDS)
        for image_id, im in images.items():
            row = {"num_boxes": len(im["boxes"]), "boxes": b64(im["boxes"]), "features": b64(im["features"])}
            if lxmert:
                row |= {"img_id": image_id, "img_h": im["height"], "img_w": im["width"]}
                row |= {"objects_id": b64(im["objects"].astype(np.int64)), "objects_conf": b64(im["objects_conf"])}
                row |= {"attrs_id": b64(im["attrs"].astype(np.int64)), "attrs_conf": b64(im["attrs_conf"])}
            else:
                row |= {"image_id": image_id, "image_h": im["height"], "image_w": im["width"]}
            writer.writerow(row)
    return path


def assert_imported(store: RegionStore, image_id: str, im: dict) -> None:
    entry = store[image_id]
    assert entry.image_size == (im["height"], im["width"])
    np.testing.assert_array_equal(entry.boxes, im["boxes"])
    np.testing.assert_array_equal(entry.features, im["features"].astype(np.float16))


def test_butd_tsv_round_trip_over_split_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = {str(100 + i): random_image(rng, count) for i, count in enumerate([36, 10, 1])}
    parts = list(images.items())
    first = write_butd(tmp_path / "part.tsv.0", dict(parts[:2]), lxmert=False)
    second = write_butd(tmp_path / "part.tsv.1", dict(parts[2:]), lxmert=False)
    output = tmp_path / "butd.h5"
    assert main(["import-butd", str(first), str(second), "--output", str(output), "--progress", "none"]) == 0
    assert "imported 3 images" in capsys.readouterr().out
    with RegionStore(output) as store:
        assert store.image_ids == list(images) and store.feature_dim == 2048
        for image_id, im in images.items():
            assert_imported(store, image_id, im)
            assert set(store[image_id].label_names) == {NO_LABEL}
        assert store.provenance["backend"] == "import:butd-tsv"
    # Started again, the import skips what the store holds.
    assert main(["import-butd", str(first), str(second), "--output", str(output), "--progress", "none"]) == 0
    out = capsys.readouterr().out
    assert "imported 0 images" in out and "(3 already there)" in out


def test_lxmert_tsv_labels_and_attributes_become_tags(tmp_path):
    rng = np.random.default_rng(1)
    images = {f"COCO_val2014_{i:012d}": random_image(rng, count) for i, count in enumerate([5, 3])}
    tsv = write_butd(tmp_path / "val.tsv", images, lxmert=True)
    objects_vocab = tmp_path / "objects_vocab.txt"
    objects_vocab.write_text("cat\nstop sign,stopsign\ndog,doggy\n")
    attributes_vocab = tmp_path / "attributes_vocab.txt"
    attributes_vocab.write_text("\n".join(ATTRIBUTES) + "\n")
    output = tmp_path / "lxmert.h5"
    argv = ["import-butd", str(tsv), "--output", str(output), "--progress", "none"]
    assert main([*argv, "--objects-vocab", str(objects_vocab), "--attributes-vocab", str(attributes_vocab)]) == 0
    with RegionStore(output) as store:
        for image_id, im in images.items():
            assert_imported(store, image_id, im)
            entry = store[image_id]
            assert entry.label_names == [OBJECTS[i] for i in im["objects"]]
            np.testing.assert_array_equal(entry.scores, im["objects_conf"])
            assert entry.attribute_names == [[ATTRIBUTES[i]] for i in im["attrs"]]
            np.testing.assert_array_equal(entry.attribute_scores[:, 0], im["attrs_conf"])


def test_butd_rows_of_another_layout_are_refused(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\t2\t3\n")
    assert main(["import-butd", str(bad), "--output", str(tmp_path / "x.h5")]) == 2
    assert f"{bad}:1: 3 fields" in capsys.readouterr().err


def vinvl_rows(images: dict[str, dict], with_geometry: bool = True) -> dict[str, list[str]]:
    """The features (Oscar's json layout), label and hw rows of a VinVL dump of `images`."""
    rows: dict[str, list[str]] = {"features": [], "features3": [], "labels": [], "hw": []}
    for key, im in images.items():
        features = im["features"]
        if with_geometry:
            geometry = box_geometry(im["boxes"], (im["height"], im["width"]), "oscar")
            features = np.concatenate([features, geometry], axis=1)
        count = len(features)
        rows["features"].append(f"{key}\t{json.dumps({'num_boxes': count, 'features': b64(features)})}")
        rows["features3"].append(f"{key}\t{count}\t{b64(features)}")
        objects = [
            {
                "rect": [float(v) for v in box],
                "class": OBJECTS[o],
                "conf": float(c),
                "attributes": [ATTRIBUTES[a]] * (1 + k % 2),
                "attr_scores": [0.5] * (1 + k % 2),
            }
            for k, (box, o, c, a) in enumerate(
                zip(im["boxes"], im["objects"], im["objects_conf"], im["attrs"], strict=True)
            )
        ]
        rows["labels"].append(f"{key}\t{json.dumps(objects)}")
        rows["hw"].append(f"{key}\t{json.dumps([{'height': im['height'], 'width': im['width']}])}")
    return rows


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_vinvl_aligned_labels_with_size_recovered_from_geometry(tmp_path):
    rng = np.random.default_rng(2)
    images = {str(7 + i): random_image(rng, count, dim=2048) for i, count in enumerate([4, 2])}
    rows = vinvl_rows(images)
    features = write_lines(tmp_path / "train.feature.tsv", rows["features"])
    labels = write_lines(tmp_path / "train.label.tsv", rows["labels"])
    output = tmp_path / "vinvl.h5"
    argv = ["import-vinvl", "--features", str(features), "--labels", str(labels), "--output", str(output)]
    assert main([*argv, "--progress", "none"]) == 0
    with RegionStore(output) as store:
        assert store.feature_dim == 2048 and store.max_attributes_per_region == 2
        for key, im in images.items():
            assert_imported(store, key, im)  # size recovered from the geometry, geometry dropped from the features
            entry = store[key]
            assert entry.label_names == [OBJECTS[o] for o in im["objects"]]
            assert entry.attribute_names == [[ATTRIBUTES[a]] * (1 + k % 2) for k, a in enumerate(im["attrs"])]


def test_vinvl_unaligned_labels_match_by_overlap_with_an_hw_file(tmp_path):
    rng = np.random.default_rng(3)
    images = {f"img_{i:06d}": random_image(rng, 3) for i in range(2)}
    rows = vinvl_rows(images)
    # The label file lists other boxes: the first region's box shifted a little, and one far away box.
    label_rows = []
    for key, im in images.items():
        near = [float(v) + 1.0 for v in im["boxes"][0]]
        objects = [{"rect": near, "class": "near", "conf": 0.9}, {"rect": [-50, -50, -40, -40], "class": "far"}]
        label_rows.append(f"{key}\t{json.dumps({'objects': objects})}")
    dump = VinvlTsv(
        features=write_lines(tmp_path / "features.tsv", rows["features3"]),
        labels=write_lines(tmp_path / "predictions.tsv", label_rows),
        hw=write_lines(tmp_path / "hw.tsv", rows["hw"]),
        numeric_ids=True,
    )
    imported = list(dump.images(skip=set()))
    assert [i.image_id for i in imported] == ["0", "1"]
    for record, im in zip(imported, images.values(), strict=True):
        assert record.image_size == (im["height"], im["width"])
        np.testing.assert_allclose(record.boxes, im["boxes"], rtol=1e-5, atol=1e-3)  # from geometry x size
        near = torch.tensor([[float(v) + 1.0 for v in im["boxes"][0]]])
        overlaps = box_iou(torch.from_numpy(record.boxes), near)[:, 0] > 0
        # Each region takes the label box that overlaps it most ("far" overlaps none), or no label when none does.
        assert record.labels == ["near" if hit else NO_LABEL for hit in overlaps]
        assert record.labels[0] == "near" and record.scores[0] == pytest.approx(0.9)


def test_vinvl_features_from_the_label_rows(tmp_path):
    rng = np.random.default_rng(4)
    images = {"a": random_image(rng, 2)}
    im = images["a"]
    objects = [
        {"rect": [float(v) for v in box], "class": "cat", "conf": 0.5, "feature": b64(feature)}
        for box, feature in zip(im["boxes"], im["features"], strict=True)
    ]
    dump = VinvlTsv(
        labels=write_lines(tmp_path / "predictions.tsv", [f"a\t{json.dumps({'objects': objects})}"]),
        hw=write_lines(tmp_path / "hw.tsv", vinvl_rows(images)["hw"]),
    )
    (record,) = list(dump.images(skip=set()))
    np.testing.assert_array_equal(record.features, im["features"])
    np.testing.assert_array_equal(record.boxes, im["boxes"])


def test_vinvl_files_must_list_the_same_images(tmp_path):
    rng = np.random.default_rng(5)
    rows = vinvl_rows({"a": random_image(rng, 2), "b": random_image(rng, 2)})
    features = write_lines(tmp_path / "f.tsv", rows["features"])
    labels = write_lines(tmp_path / "l.tsv", rows["labels"][::-1])
    with pytest.raises(TsvFormatError, match=r"l.tsv:1 has key 'b' where .*f.tsv:1 has 'a'"):
        VinvlTsv(features=features, labels=labels)
    no_size = write_lines(tmp_path / "g.tsv", vinvl_rows({"a": random_image(rng, 2)}, with_geometry=False)["features"])
    with pytest.raises(TsvFormatError, match="image size unknown: pass the hw TSV"):
        VinvlTsv(features=no_size)


def test_butd_rows_without_boxes_import_as_images_without_regions(tmp_path, capsys):
    rng = np.random.default_rng(6)
    images = {"empty": random_image(rng, 0, dim=64), "full": random_image(rng, 3, dim=64)}
    dump = write_butd(tmp_path / "part.tsv", images, lxmert=False)  # the empty image comes first
    output = tmp_path / "butd.h5"
    assert main(["import-butd", str(dump), "--output", str(output), "--progress", "none"]) == 0
    with RegionStore(output) as store:
        assert store.feature_dim == 64 and store.num_regions("empty") == 0
        assert store["empty"].features.shape == (0, 64)
        assert_imported(store, "full", images["full"])


def test_butd_line_that_is_not_utf8_is_named(tmp_path, capsys):
    rng = np.random.default_rng(7)
    dump = write_butd(tmp_path / "part.tsv", {"a": random_image(rng, 2, dim=8)}, lxmert=False)
    dump.write_bytes(dump.read_bytes() + b"b\xff\t1\t1\t0\t\t\n")
    assert main(["import-butd", str(dump), "--output", str(tmp_path / "x.h5"), "--progress", "none"]) == 2
    assert f"{dump}:2: not UTF-8 text" in capsys.readouterr().err


def vinvl_labels_error(tmp_path: Path, objects: object, capsys) -> str:
    """The error line of importing one image whose labels row holds `objects`, with an hw file for its size."""
    rng = np.random.default_rng(8)
    rows = vinvl_rows({"a": random_image(rng, 2)})
    features = write_lines(tmp_path / "f.tsv", rows["features3"])
    labels = write_lines(tmp_path / "l.tsv", [f"a\t{json.dumps(objects)}"])
    hw = write_lines(tmp_path / "hw.tsv", rows["hw"])
    argv = ["import-vinvl", "--features", str(features), "--labels", str(labels), "--hw", str(hw)]
    assert main([*argv, "--output", str(tmp_path / "v.h5"), "--progress", "none"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        ([{"rect": [0, 0, 5, 5], "conf": 0.5}], r"l\.tsv:1: object 0: missing key 'class'"),
        ([{"rect": [0, 0, 5], "class": "cat"}], r"l\.tsv:1: object 0: 'rect' must be 4 numbers"),
        ([{"class": 3}], r"l\.tsv:1: object 0: 'class' must be a string, got 3"),
        ({"objects": "cat"}, r"l\.tsv:1: the labels field must be a list of objects .* not str"),
        (["cat"], r"l\.tsv:1: object 0: must be a JSON object, not str"),
        ([{"class": "cat", "attributes": ["red"], "attr_scores": []}], r"object 0: 'attr_scores' must be 1 numbers"),
    ],
)
def test_vinvl_label_rows_name_file_line_and_field(tmp_path, capsys, objects, expected):
    assert re.search(expected, vinvl_labels_error(tmp_path, objects, capsys))


def test_vinvl_feature_counts_must_be_whole_numbers(tmp_path, capsys):
    rng = np.random.default_rng(9)
    rows = vinvl_rows({"a": random_image(rng, 2)})
    key, _, rest = rows["features3"][0].split("\t", 2)
    features = write_lines(tmp_path / "f.tsv", [f"{key}\ttwo\t{rest}"])
    assert main(["import-vinvl", "--features", str(features), "--output", str(tmp_path / "v.h5")]) == 2
    assert f"{features}:1: field 2 (num_boxes) must be a whole number, got 'two'" in capsys.readouterr().err
    info = json.loads(rows["features"][0].split("\t", 1)[1])
    features = write_lines(tmp_path / "g.tsv", [f"a\t{json.dumps(info | {'num_boxes': 2.5})}"])
    assert main(["import-vinvl", "--features", str(features), "--output", str(tmp_path / "w.h5")]) == 2
    assert f"{features}:1: 'num_boxes' must be a whole number, got 2.5" in capsys.readouterr().err
