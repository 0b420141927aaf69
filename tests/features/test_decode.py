"""Decoding: every image mode to RGB, large images, and a reason for every file that cannot be decoded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from features.backends.base import ImageRecord
from features.decode import DecodeFailure, Decoder
from features.inputs import ImageItem
from tests.features.images import pattern, write_bad_files, write_modes


def decode(path, **settings) -> ImageRecord | DecodeFailure:
    return Decoder(**settings)(ImageItem(path.stem, path))


def test_every_mode_becomes_rgb_uint8_of_the_right_size(tmp_path):
    for name, path in write_modes(tmp_path).items():
        record = decode(path)
        assert isinstance(record, ImageRecord), f"{name}: {record}"
        assert record.pixels.shape == (40, 56, 3) and record.pixels.dtype == np.uint8, name
        assert record.original_size is None and record.full_size == (40, 56)


def test_conversions_keep_the_content(tmp_path):
    paths = write_modes(tmp_path)
    rgb = decode(paths["rgb.png"]).pixels
    gray = np.asarray(Image.open(paths["gray.png"]))
    np.testing.assert_array_equal(decode(paths["gray.png"]).pixels, np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(decode(paths["rgba.png"]).pixels, rgb)  # alpha dropped, colours kept
    # 16-bit: scaled to 8 bits (65535 -> 255), not clipped at 255 as Pillow's own conversion does.
    raw16 = np.asarray(Image.open(paths["gray16.png"])).astype(np.float64)
    expected = np.clip(np.rint(raw16 / 257.0), 0, 255)
    np.testing.assert_array_equal(decode(paths["gray16.png"]).pixels[:, :, 0], expected)
    assert decode(paths["gray16.png"]).pixels.max() > 200
    cmyk = decode(paths["cmyk.jpg"]).pixels.astype(int)
    assert np.abs(cmyk - rgb.astype(int)).mean() < 20  # JPEG-lossy but the same picture


def test_large_images_are_downscaled_and_keep_their_original_size(tmp_path):
    path = tmp_path / "large.jpg"
    Image.fromarray(pattern(1500, 2400)).save(path, quality=90)
    record = decode(path, max_side=600)
    assert max(record.pixels.shape[:2]) == 600
    assert record.original_size == (1500, 2400) and record.full_size == (1500, 2400)
    np.testing.assert_allclose(record.pixel_scale(), [4.0, 1500 / record.size[0]] * 2, rtol=1e-6)
    full = decode(path, max_side=None)
    assert full.pixels.shape == (1500, 2400, 3) and full.original_size is None


def test_exif_rotation_is_applied_to_pixels_and_size(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    Image.fromarray(pattern(30, 80)).save(path, exif=exif)
    assert decode(path).pixels.shape == (80, 30, 3)
    small = decode(path, max_side=40)
    assert small.full_size == (80, 30) and small.pixels.shape[0] == 40
    assert decode(path, exif_transpose=False).pixels.shape == (30, 80, 3)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("empty", "empty file (0 bytes)"),
        ("truncated_jpeg", "truncated or corrupt"),
        ("truncated_png", "truncated or corrupt"),
        ("not_an_image", "not an image"),
        ("missing", "file not found"),
        ("folder", "not a file"),
    ],
)
def test_bad_files_become_failures_with_a_reason(tmp_path, case, reason):
    path = write_bad_files(tmp_path)[case]
    failure = decode(path)
    assert isinstance(failure, DecodeFailure)
    assert reason in failure.reason and failure.path == str(path) and failure.image_id == path.stem


def test_too_many_pixels_is_a_failure_not_a_crash(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(pattern(100, 100)).save(path)
    failure = decode(path, max_image_pixels=5000)
    assert isinstance(failure, DecodeFailure) and "max_image_pixels=5000" in failure.reason
