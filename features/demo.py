"""The demo's extraction stage: region features of the built-in synthetic world with the given-boxes backend.

    from vlp.world import generate_world
    from features.demo import extract_demo_world_features
    world = generate_world(Path("runs/demo/world"), num_images=2000)
    store = extract_demo_world_features(world, out_path=Path("runs/demo/features.h5"))

It runs `configs/features/demo_world.yaml` through the same code as `extract-features run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from features.config import load_config
from features.extract import run_extraction
from features.pipeline import describe
from vlp.world import WorldFiles

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "features" / "demo_world.yaml"


def extract_demo_world_features(
    world: WorldFiles | str | Path | Sequence[str | Path],
    image_root: str | Path | None = None,
    out_path: str | Path = "runs/demo/features.h5",
    *,
    overrides: Sequence[str] = (),
    device: str = "auto",
    processes: int = 1,
    progress: str = "auto",
    config: str | Path = DEMO_CONFIG,
    verbose: bool = True,
) -> Path:
    """Extracts (or resumes extracting) the features of every split of a demo world into one region store.

    Args:
        world: the `WorldFiles` that `vlp.world.generate_world` returned, or the instances json(s) to extract.
        image_root: the folder of the images; defaults to `world.image_dir` for a `WorldFiles`.
        out_path: the region store to write (resumed when it exists with the same settings).
        overrides: config overrides, e.g. `["run.batch_size=32"]`.
        device: "auto", "cpu", "cuda" or "cuda:N".
        processes: local processes, each writing a shard (the store reads them as one; 0: one per GPU).
        progress: "auto", "bar", "log" or "none".
        config: the extraction config.
        verbose: print the run's summary.

    Returns:
        `out_path`, to be opened with `vlp.store.RegionStore` (it finds the shard files of a multi-process run).
    """
    if isinstance(world, WorldFiles):
        instances = [str(path) for path in world.instances.values()]
        image_root = image_root or world.image_dir
    else:
        instances = [str(world)] if isinstance(world, (str, Path)) else [str(p) for p in world]
    if image_root is None:
        raise ValueError("image_root is needed when the world is given as instances json paths")
    values = {
        "input": instances,
        "image_root": str(image_root),
        "output": str(out_path),
        "run.device": device,
        "run.processes": processes,
        "run.progress": progress,
    }
    summaries = run_extraction(load_config(config, overrides, values))
    if verbose:
        print(describe(summaries))
    return Path(out_path)
