"""Image files to [H, W, 3] uint8 RGB arrays, whatever their mode, with every failure turned into a reason.

Modes: palette (with or without transparency), grayscale, bilevel, CMYK, YCbCr, alpha (dropped, as detectors expect)
and 16-bit or float images (rescaled to 8 bits: Pillow's own conversion clips 16-bit values to 255 instead). EXIF
orientation is applied, so boxes refer to the image as it is displayed. Images with a longer side above `max_side` are
downscaled while decoding (JPEG draft mode makes that cheap); the record keeps the file's size, so backends report boxes
in the original coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from features.backends.base import ImageRecord
from features.inputs import ImageItem

EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height


@dataclass(frozen=True)
class DecodeFailure:
    """An image that could not be decoded, and why (goes to the failures file)."""

    image_id: str
    path: str
    reason: str


@dataclass
class Decoder:
    """Decodes files into `ImageRecord`s; picklable, so DataLoader workers each hold a copy.

    Args:
        max_side: longer side in pixels above which images are downscaled while decoding; None keeps full size.
        max_image_pixels: images with more pixels are refused (a guard against decompression bombs); it replaces
            Pillow's own limit, which would refuse large but genuine photographs.
        exif_transpose: apply the EXIF orientation tag.
    """

    max_side: int | None = 2048
    max_image_pixels: int = 1_000_000_000
    exif_transpose: bool = True

    def settings(self) -> dict[str, object]:
        """What of decoding shapes the features (for the store's provenance; the pixel limit only refuses images, so
        a resumed run may raise it)."""
        return {"max_side": self.max_side, "exif_transpose": self.exif_transpose}

    def __call__(self, item: ImageItem) -> ImageRecord | DecodeFailure:
        """The decoded image, or a `DecodeFailure` naming the reason; never raises for a bad file."""
        try:
            pixels, original_size = self.read(item.path)
        except Exception as error:  # every bad file becomes a failure entry, the run goes on
            return DecodeFailure(item.image_id, str(item.path), _reason(item.path, error))
        return ImageRecord(item.image_id, str(item.path), pixels, original_size)

    def read(self, path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
        """[H, W, 3] uint8 RGB pixels and the (height, width) in the file when they were downscaled, else None.

        Raises:
            OSError, ValueError, Image.DecompressionBombError: for unreadable, truncated, non-image or too large files.
        """
        # Our own pixel limit replaces Pillow's process-wide one (set here, as DataLoader workers may be spawned).
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as image:
            if image.width * image.height > self.max_image_pixels:
                raise Image.DecompressionBombError(
                    f"{image.width}x{image.height} pixels exceed max_image_pixels={self.max_image_pixels}"
                )
            full = (image.height, image.width)
            if self.exif_transpose and image.getexif().get(EXIF_ORIENTATION) in QUARTER_TURNS:
                full = (image.width, image.height)
            if self.max_side and max(full) > self.max_side:
                ratio = self.max_side / max(full)
                image.draft("RGB", (max(1, round(image.width * ratio)), max(1, round(image.height * ratio))))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow warns about odd EXIF or palettes it handles fine
                image.load()
                if self.exif_transpose:
                    image = ImageOps.exif_transpose(image)
            pixels = _to_rgb(image)
        return self._limit(pixels, full)

    def _limit(self, pixels: np.ndarray, full: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int] | None]:
        height, width = pixels.shape[:2]
        if self.max_side and max(height, width) > self.max_side:
            ratio = self.max_side / max(height, width)
            size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
            pixels = np.array(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
        return pixels, (full if pixels.shape[:2] != full else None)


def _to_rgb(image: Image.Image) -> np.ndarray:
    """[H, W, 3] uint8 RGB of any Pillow mode."""
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        gray = _to_8_bit(np.asarray(image), sixteen_bit=image.mode.startswith("I;16"))
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # palette transparency must go through RGBA to convert cleanly
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)  # a writable copy: torch refuses to wrap Pillow's read-only buffer


def _to_8_bit(values: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Grayscale of 16 bits, 32-bit integers or floats to uint8.

    16-bit images map 65535 to 255; 32-bit integer images are taken as 16-bit when any value exceeds 255 (PNG's 16-bit
    grayscale opens as such in some Pillow versions); floats within [0, 1] are intensities, other floats are clipped.
    """
    scaled = values.astype(np.float64)
    if sixteen_bit or (values.dtype.kind in "iu" and values.size and values.max() > 255):
        scaled = scaled / 257.0
    elif values.dtype.kind == "f" and values.size and values.min() >= 0.0 and values.max() <= 1.0:
        scaled = scaled * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _reason(path: Path, error: Exception) -> str:
    """A short, human reason for a failed decode."""
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "not a file (a folder)"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, UnidentifiedImageError):
        try:
            empty = path.stat().st_size == 0
        except OSError:
            empty = False
        return "empty file (0 bytes)" if empty else "not an image (unknown format)"
    if isinstance(error, Image.DecompressionBombError):
        return f"too large: {error}"
    message = str(error)
    if any(word in message.lower() for word in ("truncated", "broken")) or isinstance(error, SyntaxError):
        return f"truncated or corrupt image: {message}"
    return f"{type(error).__name__}: {message}"
