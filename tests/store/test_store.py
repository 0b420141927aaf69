"""Region store: round trips, appends, crash safety, shards, DataLoader workers, geometry and error messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from tests.store.entries import ATTRIBUTES, LABELS, make_entry
from vlp.store import RegionStore, RegionStoreError, RegionStoreWriter, box_geometry, shard_path
from vlp.store import schema as S
from vlp.store.strings import append_strings

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_store(path: Path, indices, **kwargs) -> None:
    kwargs = {"provenance": {"backend": "test"}, "label_names": LABELS, "max_attributes_per_region": 2, **kwargs}
    with RegionStoreWriter(path, 16, **kwargs) as writer:
        for index in indices:
            writer.add(**make_entry(index))


def assert_entry_matches(store: RegionStore, index: int) -> None:
    """Compares a stored image field by field with the arrays that were written."""
    expected = make_entry(index)
    entry = store[expected["image_id"]]
    assert entry.image_id == expected["image_id"]
    assert entry.image_size == expected["image_size"]
    assert entry.features.dtype == np.float16
    np.testing.assert_array_equal(entry.features, expected["features"].astype(np.float16))
    np.testing.assert_array_equal(entry.boxes, expected["boxes"])
    np.testing.assert_array_equal(entry.scores, expected["scores"])
    assert entry.label_names == expected["labels"]
    assert [store.label_names[i] for i in entry.labels] == expected["labels"]
    assert store.label_names_of(expected["image_id"]) == expected["labels"]
    assert entry.attribute_names == expected["attributes"]
    for row, names in zip(entry.attributes, expected["attributes"], strict=True):
        assert [store.attribute_names[a] for a in row if a >= 0] == names
        assert (row[len(names) :] == -1).all()
    for row, scores in zip(entry.attribute_scores, expected["attribute_scores"], strict=True):
        np.testing.assert_allclose(row[: len(scores)], scores, rtol=1e-6)
        assert (row[len(scores) :] == 0).all()


def assert_stores_equal(a: RegionStore, b: RegionStore) -> None:
    assert a.image_ids == b.image_ids
    for image_id in a.image_ids:
        x, y = a[image_id], b[image_id]
        assert x.image_size == y.image_size and x.label_names == y.label_names
        assert x.attribute_names == y.attribute_names
        for name in ("features", "boxes", "scores", "attribute_scores"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


def test_round_trip_of_every_field(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(20))
    store = RegionStore(path)
    assert len(store) == 20 and store.feature_dim == 16 and store.max_attributes_per_region == 2
    assert store.label_names[: len(LABELS)] == LABELS
    assert set(store.attribute_names) <= set(ATTRIBUTES)
    assert store.provenance == {"backend": "test"}
    assert store.image_ids == [f"img-{i:04d}" for i in range(20)]
    assert any(store.num_regions(i) == 0 for i in store.image_ids), "the fixture should include an empty image"
    for index in range(20):
        assert_entry_matches(store, index)


def test_random_access_by_id_in_any_order(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(40))
    store = RegionStore(path)
    for index in np.random.default_rng(0).permutation(40):
        assert_entry_matches(store, int(index))
    assert "img-0003" in store and "img-9999" not in store


def test_integer_ids_are_looked_up_as_strings(tmp_path):
    path = tmp_path / "coco.h5"
    with RegionStoreWriter(path, 4) as writer:
        writer.add(42, (10, 10), np.ones((1, 4)), [[0, 0, 1, 1]], [0.5], ["cat"])
    store = RegionStore(path)
    assert 42 in store and store[42].image_id == "42" and store["42"].label_names == ["cat"]


def test_append_across_two_writer_sessions(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(10))
    with RegionStoreWriter(path, 16, provenance={"backend": "test"}, max_attributes_per_region=2) as writer:
        assert len(writer.committed_ids) == 10 and "img-0004" in writer
        writer.add(
            image_id="new",
            image_size=(8, 8),
            features=np.zeros((1, 16)),
            boxes=[[0, 0, 4, 4]],
            scores=[1.0],
            labels=["hexagon"],
            attributes=[["green"]],
        )
        for index in range(10, 15):
            writer.add(**make_entry(index))
    store = RegionStore(path)
    assert len(store) == 16
    assert store["new"].label_names == ["hexagon"] and store["new"].attribute_names == [["green"]]
    for index in range(15):
        assert_entry_matches(store, index)
    uninterrupted = tmp_path / "once.h5"
    write_store(uninterrupted, range(15))
    assert store.image_ids[:10] + store.image_ids[11:] == RegionStore(uninterrupted).image_ids


def test_reader_ignores_data_past_the_committed_counters(tmp_path):
    """A writer killed after writing data but before its counters leaves rows that nobody may see."""
    path = tmp_path / "store.h5"
    write_store(path, range(5))
    with h5py.File(path, "r+") as f:  # what a kill between the data flush and the counter update leaves behind
        for name in (S.IMAGE_SIZE, S.FEATURES, S.BOXES, S.SCORES, S.LABELS, S.OFFSETS):
            f[name].resize(f[name].shape[0] + 3, axis=0)
        append_strings(f, S.IMAGE_IDS, ["half-1", "half-2", "half-3"], 5)
    store = RegionStore(path)
    assert len(store) == 5 and "half-1" not in store
    write_store(path, range(5, 8))  # resuming truncates the half-written rows, then appends
    store = RegionStore(path)
    assert store.image_ids == [f"img-{i:04d}" for i in range(8)]
    with h5py.File(path) as f:
        assert f[S.IMAGE_IDS]["ends"].shape[0] == 8 and f[S.FEATURES].shape[0] == f.attrs[S.ATTR_COMMITTED_REGIONS]


def test_buffered_entries_are_invisible_until_committed(tmp_path):
    path = tmp_path / "store.h5"
    writer = RegionStoreWriter(path, 16, label_names=LABELS, max_attributes_per_region=2, commit_every=100)
    for index in range(4):
        writer.add(**make_entry(index))
    writer.commit()
    writer.add(**make_entry(4))
    assert RegionStore(path).image_ids == [f"img-{i:04d}" for i in range(4)]
    writer.close()
    assert len(RegionStore(path)) == 5


@pytest.mark.slow
def test_sigkill_during_appends_then_resume_equals_an_uninterrupted_store(tmp_path):
    total = 300
    path = tmp_path / "killed.h5"
    command = [sys.executable, "-m", "tests.store.kill_writer", str(path), str(total)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    rng = np.random.default_rng(0)
    kills = 0
    for _ in range(4):
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        # Let it commit a few batches, then kill it at an arbitrary point inside the next appends.
        wanted = int(rng.integers(3, 12))
        lines = [child.stdout.readline() for _ in range(wanted)]
        if "done\n" in lines or "" in lines:
            child.wait()
            break
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        kills += 1
        committed = len(RegionStore(path))
        assert 0 < committed < total
    assert kills >= 2, "the writer finished before it could be killed; make the run longer"
    finished = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    assert finished.stdout.strip().endswith("done")
    reference = tmp_path / "reference.h5"
    write_store(reference, range(total))
    assert_stores_equal(RegionStore(path), RegionStore(reference))
    assert len(set(RegionStore(path).image_ids)) == total


def test_two_shards_read_as_one(tmp_path):
    name = tmp_path / "features.h5"
    # Shards meet labels in different orders: the reader unifies their vocabularies.
    write_store(shard_path(name, 0, 2), range(0, 30, 2), label_names=LABELS[::-1])
    write_store(shard_path(name, 1, 2), range(1, 30, 2), label_names=LABELS)
    assert shard_path(name, 1, 2).name == "features.00001-of-00002.h5"
    for source in (name, tmp_path, [shard_path(name, 0, 2), shard_path(name, 1, 2)]):
        store = RegionStore(source)
        assert len(store) == 30 and len(store.paths) == 2
        for index in range(30):
            assert_entry_matches(store, index)
    single = tmp_path / "single" / "features.h5"
    write_store(single, [*range(0, 30, 2), *range(1, 30, 2)])
    assert_stores_equal(RegionStore(name), RegionStore(single))


class _StoreDataset(Dataset):
    """The pattern the data modules use: a store built in the parent, read inside each worker."""

    def __init__(self, store: RegionStore) -> None:
        self.store, self.ids = store, store.image_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor, int]:
        entry = self.store[self.ids[index]]
        return entry.image_id, torch.from_numpy(entry.features.astype(np.float32)).sum(), os.getpid()


def test_dataloader_with_two_workers(tmp_path):
    name = tmp_path / "features.h5"
    write_store(shard_path(name, 0, 2), range(0, 40, 2))
    write_store(shard_path(name, 1, 2), range(1, 40, 2))
    store = RegionStore(name)
    store["img-0000"]  # the parent opened handles before forking: workers must not reuse them
    loader = DataLoader(_StoreDataset(store), batch_size=4, num_workers=2, collate_fn=list)
    seen = {image_id: (total, pid) for batch in loader for image_id, total, pid in batch}
    assert len(seen) == 40 and len({pid for _, pid in seen.values()}) == 2
    for index in range(40):
        expected = make_entry(index)
        total = torch.from_numpy(expected["features"].astype(np.float16).astype(np.float32)).sum()
        torch.testing.assert_close(seen[expected["image_id"]][0], total)


def test_geometry_against_hand_computed_values(tmp_path):
    boxes = np.array([[10, 20, 110, 70], [0, 0, 200, 100]], dtype=np.float32)
    size = (100, 200)  # height, width
    oscar = box_geometry(boxes, size, "oscar")
    np.testing.assert_allclose(oscar[0], [0.05, 0.2, 0.55, 0.7, 0.5, 0.5])
    np.testing.assert_allclose(oscar[1], [0, 0, 1, 1, 1, 1])
    uniter = box_geometry(boxes, size, "uniter")
    np.testing.assert_allclose(uniter[0], [0.05, 0.2, 0.55, 0.7, 0.5, 0.5, 0.25])
    np.testing.assert_allclose(uniter[1], [0, 0, 1, 1, 1, 1, 1])
    path = tmp_path / "g.h5"
    with RegionStoreWriter(path, 2) as writer:
        writer.add("a", size, np.zeros((2, 2)), boxes, [1, 1], ["x", "y"])
    store = RegionStore(path)
    np.testing.assert_allclose(store.geometry(store["a"], "uniter"), uniter)
    assert box_geometry(np.zeros((0, 4)), size, "oscar").shape == (0, 6)
    with pytest.raises(ValueError, match="unknown geometry style 'vinvl'"):
        box_geometry(boxes, size, "vinvl")


# ---------------------------------------------------------------------- errors name the file and the id
def test_unknown_image_id(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(3))
    with pytest.raises(KeyError, match=rf"image id 'nope' is not in the region store .*{path.name}"):
        RegionStore(path)["nope"]


def test_duplicate_id_on_write(tmp_path):
    path = tmp_path / "store.h5"
    with RegionStoreWriter(path, 16, max_attributes_per_region=2) as writer:
        writer.add(**make_entry(1))
        with pytest.raises(RegionStoreError, match=rf"{path.name}: image 'img-0001': duplicate image id"):
            writer.add(**make_entry(1))
    with (
        RegionStoreWriter(path, 16, max_attributes_per_region=2) as writer,
        pytest.raises(RegionStoreError, match="image 'img-0001': duplicate image id"),
    ):
        writer.add(**make_entry(1))


def test_duplicate_id_across_shards(tmp_path):
    write_store(tmp_path / "a.h5", range(3))
    write_store(tmp_path / "b.h5", range(2, 5))
    with pytest.raises(RegionStoreError, match=r"b\.h5: duplicate image id 'img-0002', also in .*a\.h5"):
        RegionStore(tmp_path)


def test_feature_dimension_mismatch(tmp_path):
    path = tmp_path / "store.h5"
    with (
        RegionStoreWriter(path, 16) as writer,
        pytest.raises(RegionStoreError, match=r"store\.h5: image 'x': feature dimension mismatch.*\[K, 16\]"),
    ):
        writer.add("x", (4, 4), np.zeros((2, 8)), np.zeros((2, 4)), [1, 1], ["a", "b"])
    with pytest.raises(RegionStoreError, match=r"store\.h5: feature dimension mismatch, the store holds 16-d"):
        RegionStoreWriter(path, 2048)
    write_store(tmp_path / "shards" / "a.h5", range(2))
    with RegionStoreWriter(tmp_path / "shards" / "b.h5", 8) as writer:
        writer.add("y", (4, 4), np.zeros((1, 8)), np.zeros((1, 4)), [1], ["a"])
    with pytest.raises(RegionStoreError, match=r"b\.h5: feature dimension mismatch, 8-d features where .*a\.h5"):
        RegionStore(tmp_path / "shards")


def test_inconsistent_region_counts_and_non_finite_values(tmp_path):
    with RegionStoreWriter(tmp_path / "s.h5", 4) as writer:
        with pytest.raises(RegionStoreError, match="image 'x': 2 features but 1 boxes"):
            writer.add("x", (4, 4), np.zeros((2, 4)), np.zeros((1, 4)), [1, 1], ["a", "b"])
        with pytest.raises(RegionStoreError, match="image 'y': non-finite"):
            writer.add("y", (4, 4), np.full((1, 4), 1e6), np.zeros((1, 4)), [1], ["a"])
        with pytest.raises(RegionStoreError, match=r"image 'z': label index out of range \[0, 0\)"):
            writer.add("z", (4, 4), np.zeros((1, 4)), np.zeros((1, 4)), [1], [3])
    with RegionStoreWriter(tmp_path / "a.h5", 4, max_attributes_per_region=1) as writer:
        with pytest.raises(RegionStoreError, match="image 'w': region 0 has 2 attributes, the store holds 1"):
            writer.add("w", (4, 4), np.zeros((1, 4)), np.zeros((1, 4)), [1], ["dog"], attributes=[["red", "big"]])
        writer.add("v", (4, 4), np.zeros((1, 4)), np.zeros((1, 4)), [1], ["cat"], attributes=[["blue"]])
    store = RegionStore(tmp_path / "a.h5")
    assert store.label_names == ["cat"] and store.attribute_names == ["blue"], "a refused image left names behind"


def test_wrong_schema_and_version(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["features"] = np.zeros((2, 2))
    with pytest.raises(RegionStoreError, match=r"other\.h5: not a vlp region store \(schema None"):
        RegionStore(other)
    path = tmp_path / "future.h5"
    write_store(path, range(2))
    with h5py.File(path, "r+") as f:
        f.attrs[S.ATTR_VERSION] = 99
    with pytest.raises(RegionStoreError, match=r"future\.h5: region store schema version 99 is not supported"):
        RegionStore(path)
    with pytest.raises(RegionStoreError, match="schema version 99"):
        RegionStoreWriter(path, 16)


def test_truncated_corrupt_and_empty_files(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(30))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RegionStoreError, match=r"truncated\.h5: .*(truncated or corrupt)"):
        store = RegionStore(truncated)
        for image_id in store.image_ids:
            store[image_id]
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RegionStoreError, match=r"corrupt\.h5: cannot open as HDF5"):
        RegionStore(corrupt)
    empty = tmp_path / "empty.h5"
    empty.touch()
    with pytest.raises(RegionStoreError, match=r"empty\.h5: empty file"):
        RegionStore(empty)
    with pytest.raises(RegionStoreError, match=r"missing\.h5: no region store here"):
        RegionStore(tmp_path / "missing.h5")


def test_resume_refuses_other_settings_and_if_exists_error(tmp_path):
    path = tmp_path / "store.h5"
    write_store(path, range(2), provenance={"backend": "torchvision", "score_threshold": 0.2})
    with pytest.raises(RegionStoreError, match=r"store\.h5: cannot resume with different settings .*score_threshold"):
        RegionStoreWriter(
            path, 16, provenance={"backend": "torchvision", "score_threshold": 0.3}, max_attributes_per_region=2
        )
    with pytest.raises(RegionStoreError, match=r"store\.h5: the store has 2 attribute slots per region, not 0"):
        RegionStoreWriter(path, 16, provenance={"backend": "torchvision", "score_threshold": 0.2})
    with pytest.raises(RegionStoreError, match=r"store\.h5: region store exists already"):
        RegionStoreWriter(path, 16, if_exists="error")
    with (
        RegionStoreWriter(
            path, 16, provenance={"backend": "torchvision", "score_threshold": 0.2}, max_attributes_per_region=2
        ) as writer,
        pytest.raises(RegionStoreError, match=r"store\.h5: another process is writing"),
    ):
        RegionStoreWriter(path, 16, if_exists="overwrite")
    with RegionStoreWriter(path, 16, if_exists="overwrite") as writer:
        assert len(writer) == 0
    assert len(RegionStore(path)) == 0
