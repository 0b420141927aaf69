"""Drawing a scene into a PNG image with PIL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vlp.world.scene import Scene
from vlp.world.shapes import outline

BACKGROUND = (236, 230, 214)
# Per-image shift of the background tint, so the background is not one constant colour across the dataset.
BACKGROUND_TINT = 10
# Amplitude of the smooth blotches (a coarse random grid upsampled bilinearly) that give the background a texture.
TEXTURE_AMPLITUDE = 8.0
TEXTURE_GRID = 6
# Per-pixel noise over the whole image, shapes included, as a camera would add: uniform in [-PIXEL_NOISE, PIXEL_NOISE].
PIXEL_NOISE = 5
# zlib level fixed explicitly, so the PNG bytes do not change with PIL's default; the fastest, as noisy pixels compress
# little better at higher levels.
PNG_COMPRESS_LEVEL = 1


def render_scene(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """Draws the scene's objects, filled with their jittered colours, on a mildly textured background.

    Args:
        scene: what to draw.
        rng: the generator for this image's pixels only.

    Returns:
        An RGB image of `scene.width` x `scene.height` pixels.
    """
    tint = np.asarray(BACKGROUND, dtype=np.float32) + rng.uniform(-BACKGROUND_TINT, BACKGROUND_TINT, size=3)
    grid = rng.normal(0.0, TEXTURE_AMPLITUDE, size=(TEXTURE_GRID, TEXTURE_GRID)).astype(np.float32)
    # A float32 array becomes a mode "F" image, which PIL resizes bilinearly without rounding to integers.
    texture = np.asarray(Image.fromarray(grid).resize((scene.width, scene.height), Image.Resampling.BILINEAR))
    canvas = Image.fromarray(np.clip(tint + texture[..., None], 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        draw.polygon(outline(obj.shape, obj.box), fill=obj.rgb)
    # int16 leaves room for the noise below 0 and above 255 before clipping.
    pixels = np.asarray(canvas, dtype=np.int16) + rng.integers(
        -PIXEL_NOISE, PIXEL_NOISE + 1, size=(scene.height, scene.width, 3), dtype=np.int16
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def save_png(image: Image.Image, path: Path) -> None:
    """Writes `image` as a PNG whose bytes depend only on its pixels (no timestamps or other metadata)."""
    image.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
