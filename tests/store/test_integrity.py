"""A store never hands back wrong data: incomplete shard sets, broken offsets, label and attribute indices out of
range, non-finite values, flipped bytes and bad provenance are refused with the file and image named."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.store.entries import make_entry
from tests.store.test_store import write_store
from vlp.store import RegionStore, RegionStoreError, shard_path
from vlp.store import schema as S
from vlp.store.reader import all_finite


def first_image_with_regions(path: Path) -> tuple[int, str]:
    """(index, id) of the first image of `write_store`'s entries that has regions."""
    store = RegionStore(path)
    for index, image_id in enumerate(store.image_ids):
        if store.num_regions(image_id):
            return index, image_id
    raise AssertionError("no image with regions")


def test_an_incomplete_set_of_shards_is_refused_naming_the_missing_one(tmp_path):
    name = tmp_path / "feats.h5"
    for index in range(3):
        write_store(shard_path(name, index, 3), range(index * 4, index * 4 + 4))
    assert len(RegionStore(name)) == 12 and len(RegionStore(tmp_path)) == 12
    shard_path(name, 1, 3).unlink()
    for source in (name, tmp_path):  # the shard name and the folder alike
        with pytest.raises(RegionStoreError, match=r"2 of 3 shards found, missing feats\.00001-of-00003\.h5"):
            RegionStore(source)


def test_shards_of_two_runs_are_not_mixed(tmp_path):
    name = tmp_path / "feats.h5"
    write_store(shard_path(name, 0, 2), range(4))
    write_store(shard_path(name, 1, 2), range(4, 8))
    write_store(shard_path(name, 0, 3), range(8, 12))
    with pytest.raises(RegionStoreError, match=r"shards of different runs mixed \(-of-00002 and -of-00003\)"):
        RegionStore(name)


def test_decreasing_offsets_name_the_image(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, range(6))
    ids = RegionStore(path).image_ids
    with h5py.File(path, "r+") as f:
        offsets = f[S.OFFSETS][...]
        offsets[2] = offsets[3] + 1  # image 1 would end after image 2 begins: it would get image 2's regions
        f[S.OFFSETS][...] = offsets
    with pytest.raises(RegionStoreError, match=rf"s\.h5: image '{ids[2]}': its offsets decrease"):
        RegionStore(path)


def test_offsets_past_the_data_name_the_image(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, range(6))
    store = RegionStore(path)
    with h5py.File(path, "r+") as f:
        regions = int(f.attrs[S.ATTR_COMMITTED_REGIONS])
        f[S.FEATURES].resize(regions - 1, axis=0)
    last_with_regions = [i for i in store.image_ids if store.num_regions(i)][-1]
    with pytest.raises(RegionStoreError, match=rf"image '{last_with_regions}': its regions end past the .* 'features'"):
        RegionStore(path)


@pytest.mark.parametrize(("column", "value", "what"), [(S.LABELS, 99, "label"), (S.ATTRIBUTES, 7, "attribute")])
def test_label_and_attribute_indices_out_of_range_name_the_image(tmp_path, column, value, what):
    path = tmp_path / "s.h5"
    write_store(path, range(6))
    index, image_id = first_image_with_regions(path)
    with h5py.File(path, "r+") as f:
        start = int(f[S.OFFSETS][index])
        f[column][start] = value
    store = RegionStore(path)
    with pytest.raises(RegionStoreError, match=rf"s\.h5: image '{image_id}': {what} index {value} is out of range"):
        store[image_id]
    if what == "label":
        with pytest.raises(RegionStoreError, match=rf"image '{image_id}': label index"):
            store.label_names_of(image_id)


def test_non_finite_features_read_back_name_the_image(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, range(6), checksums=False)  # written by another tool, without checksums
    index, image_id = first_image_with_regions(path)
    with h5py.File(path, "r+") as f:
        f[S.FEATURES][int(f[S.OFFSETS][index]), 3] = np.inf
    with pytest.raises(RegionStoreError, match=rf"image '{image_id}': non-finite region features"):
        RegionStore(path)[image_id]


def test_flipped_bytes_are_caught_by_the_checksums(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, range(6))
    index, image_id = first_image_with_regions(path)
    with h5py.File(path, "r") as f:
        assert f[S.FEATURES].fletcher32 and f[S.LABELS].fletcher32 and f[S.OFFSETS].fletcher32
        offset = f[S.FEATURES].id.get_chunk_info(0).byte_offset
    expected = make_entry(index)["features"].astype(np.float16)
    np.testing.assert_array_equal(RegionStore(path)[image_id].features, expected)
    with open(path, "r+b") as raw:  # one flipped byte inside the first feature chunk
        raw.seek(offset + 5)
        byte = raw.read(1)[0]
        raw.seek(offset + 5)
        raw.write(bytes([byte ^ 0x40]))
    with pytest.raises(RegionStoreError, match=rf"s\.h5: image '{image_id}': cannot read its regions"):
        RegionStore(path)[image_id]


def test_provenance_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "s.h5"
    write_store(path, range(2))
    with h5py.File(path, "r+") as f:
        f.attrs[S.ATTR_PROVENANCE] = "{not json"
    with pytest.raises(RegionStoreError, match=r"s\.h5: the provenance attribute is not valid JSON"):
        RegionStore(path)


@pytest.mark.parametrize(
    "special", [np.nan, np.inf, -np.inf, 65504.0, -65504.0, 6e-8, -0.0, 0.0], ids=lambda value: f"{value!r}"
)
def test_all_finite_agrees_with_numpy_on_float16_and_float32(special):
    values = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float16)
    values[3, 2] = special
    assert all_finite(values) == bool(np.isfinite(values).all())
    assert all_finite(values.astype(np.float32)) == bool(np.isfinite(values).all())
