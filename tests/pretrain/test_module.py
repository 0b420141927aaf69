"""The module's schedule counts optimizer steps (gradient accumulation included), resumes where it stopped, and
exports a model folder that initialises a new run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from tests.data.conftest import FEATURE_DIM
from vlp.data import CocoCaptionsCorpus, Corruption, LoaderSettings, PretrainDataModule
from vlp.model import VLConfig
from vlp.pretrain import ObjectiveWeights, PretrainModule
from vlp.train import CompileModel, OptimizerSettings
from vlp.train.optim import warmup_linear_decay

LR, WARMUP, STEPS = 1e-3, 2, 6
CONFIG = VLConfig(
    vocab_size=30522, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=32, region_feature_dim=FEATURE_DIM
)


class RecordLearningRates(Callback):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.rates.append(optimizer.param_groups[0]["lr"])


def data(demo_data) -> PretrainDataModule:
    return PretrainDataModule(
        [CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)],
        vocab=str(demo_data.vocab),
        corruption=Corruption(contrastive_classes=2),
        loader=LoaderSettings(batch_size=4, num_workers=0),
    )


def module(mixing: str = "all") -> PretrainModule:
    objectives = ObjectiveWeights(mlm=1.0, contrastive=1.0)
    return PretrainModule(CONFIG, objectives, mixing, optimizer=OptimizerSettings(lr=LR, warmup_steps=WARMUP))


def trainer(root: Path, *callbacks: Callback, max_steps: int = STEPS) -> Trainer:
    return Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        accumulate_grad_batches=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        callbacks=list(callbacks),
    )


@pytest.mark.slow
def test_schedule_counts_optimizer_steps_and_resumes(demo_data, tmp_path):
    torch.manual_seed(0)
    rates = RecordLearningRates()
    checkpoints = ModelCheckpoint(tmp_path / "checkpoints", every_n_train_steps=3, save_top_k=-1)
    run = trainer(tmp_path, rates, checkpoints)
    run.fit(module(), data(demo_data))
    # Six optimizer steps over twelve batches: warmup and decay follow the optimizer steps, not the batches.
    expected = [LR * warmup_linear_decay(step, WARMUP, STEPS) for step in range(STEPS)]
    assert rates.rates == pytest.approx(expected)
    assert (tmp_path / "pretrained" / "model.safetensors").is_file()

    resumed_rates = RecordLearningRates()
    resumed = trainer(tmp_path / "resumed", resumed_rates)
    resumed.fit(module(), data(demo_data), ckpt_path=str(tmp_path / "checkpoints" / "epoch=0-step=3.ckpt"))
    assert resumed.global_step == STEPS
    assert resumed_rates.rates == pytest.approx(expected[3:])


@pytest.mark.slow
def test_sampled_objectives_and_initialising_from_an_export(demo_data, tmp_path):
    torch.manual_seed(1)
    sampled = module("sample")
    trainer(tmp_path, max_steps=2).fit(sampled, data(demo_data))
    draws = []
    for batch in range(40):
        generator = torch.Generator().manual_seed(sampled.sampling_seed + batch)
        from vlp.pretrain.mixing import sample_objective

        draws.append(sample_objective(sampled.objectives, generator))
    assert set(draws) == {"mlm", "contrastive"}

    again = PretrainModule(
        CONFIG, ObjectiveWeights(mlm=1.0, itm=1.0), init_from=str(tmp_path / "pretrained"), init_format="vlp"
    )
    for name, tensor in sampled.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[name], tensor)
    torch.testing.assert_close(again.heads["mlm"].bias, sampled.heads["mlm"].bias)


class RecordLosses(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


@pytest.mark.slow
def test_compiled_model_trains_as_the_eager_one_and_saves_the_same_keys(demo_data, tmp_path):
    runs = {}
    # Without dropout: compiled code draws its random numbers differently.
    config = replace(CONFIG, hidden_dropout=0.0, attention_dropout=0.0)
    for name, callbacks in (("eager", []), ("compiled", [CompileModel()])):
        torch.manual_seed(0)
        losses = RecordLosses()
        pretrain = PretrainModule(config, ObjectiveWeights(mlm=1.0, contrastive=1.0))
        trainer(tmp_path / name, losses, *callbacks, max_steps=3).fit(pretrain, data(demo_data))
        runs[name] = (losses.losses, pretrain)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    (eager_losses, eager), (compiled_losses, compiled) = runs["eager"], runs["compiled"]
    assert graphs > 0 and compiled.model._compiled_call_impl is not None  # nn.Module.compile's in-place wrapper
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4)
    assert compiled.state_dict().keys() == eager.state_dict().keys()
    exported = str(tmp_path / "compiled" / "pretrained")
    reloaded = PretrainModule(config, ObjectiveWeights(mlm=1.0), init_from=exported, init_format="vlp")
    torch.testing.assert_close(reloaded.model.state_dict(), compiled.model.state_dict())


def test_compile_model_needs_a_model():
    with pytest.raises(ValueError, match="CompileModel compiles a module's `model`; LightningModule has none"):
        CompileModel().setup(Trainer(accelerator="cpu", logger=False), LightningModule(), "fit")
