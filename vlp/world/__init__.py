"""The built-in demo world: a seeded generator of a small synthetic vision-language dataset in the official formats.

Images hold two to five coloured shapes; captions, VQA questions (ten human answers each) and per-caption scene graphs
are derived from the scene's geometry, so that they are true of the image and learning them needs the image.

    from vlp.world import generate_world
    files = generate_world(Path("demo_world"), num_images=2000, seed=0)
    print(files.describe())
"""

from vlp.world.files import SPLITS, WorldFiles
from vlp.world.generate import generate_world
from vlp.world.tokens import tokenize_caption

__all__ = ["SPLITS", "WorldFiles", "generate_world", "tokenize_caption"]
