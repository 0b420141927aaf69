"""The full-size finetuning configs train in their own precision, bf16-mixed (Lightning's CPU autocast here), for one
batch, with the small model: the path a GPU run takes, minus the device."""

from __future__ import annotations

import math

import pytest

from tests.config_runs import SMALL_MODEL, environment, instantiate
from tests.data.conftest import demo_data
from tests.finetune.test_vqa_configs import CONFIGS, data_tree
from vlp.cli.main import lightning_cli

__all__ = ["data_tree", "demo_data", "environment"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "config", ["vqa.yaml", "captioning.yaml", "captioning_scst.yaml", "retrieval_coco.yaml", "retrieval_flickr30k.yaml"]
)
def test_full_size_configs_fit_a_batch_in_bf16(environment, tmp_path, config):
    assert instantiate(CONFIGS / config, "--model.init_args.init_from=null").trainer.precision == "bf16-mixed"
    overrides = [
        *SMALL_MODEL,
        "--trainer.accelerator=cpu",
        "--data.init_args.loader.num_workers=0",
        "--data.init_args.loader.batch_size=4",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.max_steps=1",
        "--trainer.limit_val_batches=0",
        "--trainer.logger=false",
    ]
    if config == "captioning_scst.yaml":  # its vocabulary is the cross-entropy stage's export: the pretrained one here
        overrides.append(f"--data.init_args.vocab={environment['VLP_PRETRAINED']}")
    cli = lightning_cli(["fit", "--config", str(CONFIGS / config), *overrides])
    assert cli.trainer.precision == "bf16-mixed" and cli.trainer.global_step == 1
    loss = cli.trainer.callback_metrics["train/loss_step"]
    assert math.isfinite(float(loss))
