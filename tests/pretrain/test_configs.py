"""Every pretraining YAML parses, instantiates, and fits one batch (`fast_dev_run`) on the synthetic world.

The full-size configs read their files from VLP_DATA and VLP_BERT; here those name a tree whose files are the world's
(COCO captions and Karpathy split, VQA, a caption JSONL) with a 2048-d region store, so the configs run unchanged
apart from a smaller model for the one training step. The demo configs read VLP_DEMO_DIR and VLP_DEMO_STORE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.config_runs import CPU, SMALL_MODEL, instantiate, link
from tests.data.conftest import bert_vocab
from tests.data.world_store import build_world_store
from vlp.cli.main import main as vlp_main
from vlp.convert.folder import load_pretrained
from vlp.data import PretrainDataModule
from vlp.pretrain import PretrainModule

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"
FULL = sorted(path.name for path in CONFIGS.glob("*.yaml") if not path.name.startswith("demo_"))
DEMOS = sorted(path.name for path in CONFIGS.glob("demo_*.yaml"))


def test_every_yaml_is_tested():
    assert set(FULL) == {"oscar.yaml", "oscarplus.yaml", "uniter.yaml", "rosita.yaml"}
    assert set(DEMOS) == {f"demo_{name}" for name in FULL}


@pytest.fixture(scope="module")
def data_tree(demo_data, tmp_path_factory) -> dict[str, str]:
    """VLP_DATA and VLP_BERT for the full-size configs, VLP_DEMO_* for the demos."""
    root = tmp_path_factory.mktemp("vlp_data")
    world = demo_data.world
    store = build_world_store(world, root / "regions_2048.h5", feature_dim=2048)
    link(world.captions["train"], root / "data/coco/annotations/captions_train2014.json")
    link(world.captions["val"], root / "data/coco/annotations/captions_val2014.json")
    link(world.karpathy, root / "data/coco/dataset_coco.json")
    link(world.vqa_questions["train"], root / "data/vqa/v2_OpenEnded_mscoco_train2014_questions.json")
    link(world.vqa_annotations["train"], root / "data/vqa/v2_mscoco_train2014_annotations.json")
    link(store, root / "data/features/coco/regions.h5")
    link(store, root / "data/features/cc/regions.h5")
    captions = json.loads(world.captions["train"].read_text())["annotations"]
    (root / "data/cc").mkdir()
    (root / "data/cc/train.jsonl").write_text(
        "".join(json.dumps({"image_id": c["image_id"], "caption": c["caption"]}) + "\n" for c in captions[:50])
    )
    link(bert_vocab(), root / "bert/vocab.txt")
    link(world.root, root / "demo/world")
    return {
        "VLP_DATA": str(root / "data"),
        "VLP_BERT": str(root / "bert"),
        "VLP_DEMO_DIR": str(root / "demo"),
        "VLP_DEMO_STORE": str(demo_data.store),
    }


@pytest.mark.slow
@pytest.mark.parametrize("config", FULL)
def test_full_size_config_instantiates(config, environment):
    cli = instantiate(CONFIGS / config, "--model.init_args.init_from=null")
    assert isinstance(cli.model, PretrainModule) and isinstance(cli.datamodule, PretrainDataModule)
    assert cli.model.model.config.hidden_size == 768 and cli.model.model.config.num_layers == 12
    corruption = cli.datamodule.corruption
    if "contrastive" in cli.model.objectives.active:
        assert cli.model.heads["contrastive"].num_classes == corruption.contrastive_classes
    assert cli.datamodule.geometry == cli.model.model.config.region_style


@pytest.mark.slow
@pytest.mark.parametrize("config", FULL)
def test_full_size_config_fits_one_batch(config, environment, tmp_path):
    vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / config),
            *SMALL_MODEL,
            # In the config's own precision, bf16-mixed (Lightning's CPU autocast here).
            *(override for override in CPU if not override.startswith("--trainer.precision")),
            "--trainer.fast_dev_run=true",
            f"--trainer.default_root_dir={tmp_path}",
            "--data.init_args.loader.batch_size=4",
        ]
    )
    bundle = load_pretrained(tmp_path / "pretrained")
    assert bundle.config.hidden_size == 32 and "mlm" in bundle.heads
    assert (tmp_path / "pretrained" / "vocab.txt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("config", DEMOS)
def test_demo_config_fits_one_batch(config, environment):
    name = config.removeprefix("demo_").removesuffix(".yaml")
    root = Path(environment["VLP_DEMO_DIR"]) / "pretrain" / name
    vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / config),
            "--trainer.fast_dev_run=true",
            "--data.init_args.loader.num_workers=0",
        ]
    )
    assert (root / "vocab.txt").is_file() and (root / "pretrained" / "model.safetensors").is_file()
    assert os.path.getsize(root / "vocab.txt") < 4000  # the world's own small vocabulary
