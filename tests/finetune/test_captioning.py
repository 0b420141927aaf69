"""Captioning: Oscar's layout and training targets, and the demo config fitted, validated (CIDEr-D), predicted and
scored with `vlp eval caption` on the synthetic world."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.captioning import CaptionCollate, CaptionDataModule, CaptionDataset, CaptioningModule
from finetune.captioning.collate import next_token_labels, sample_caption_mask
from finetune.captioning.demo import main as demo_main
from finetune.captioning.module import drop_worst
from finetune.captioning.scst import CiderReward, scst_loss
from tests.config_runs import CPU, SMALL_MODEL, environment, instantiate, plain_and_shuffled
from tests.data.conftest import bert_vocab, demo_data
from tests.finetune.test_vqa_configs import CONFIGS, data_tree
from vlp.cli.main import main as vlp_main
from vlp.data import CocoCaptionsCorpus, WordPieceTokenizer
from vlp.metrics.cider import CiderD
from vlp.objectives.output import IGNORE_INDEX
from vlp.report import StageSummary
from vlp.store import RegionStore

__all__ = ["data_tree", "demo_data", "environment"]
ROOT = Path(__file__).resolve().parents[2]


def test_oscar_masks_a_few_caption_tokens_never_cls():
    maskable = torch.zeros(3, 12, dtype=torch.bool)
    maskable[0, 1:11] = True  # 10 tokens: round(1.5) = 2
    maskable[1, 1:3] = True  # 2 tokens: at least 1
    maskable[2, 1:12] = True  # 11 tokens: round(1.65) = 2
    chosen = sample_caption_mask(maskable, 0.15, 3, torch.Generator().manual_seed(0))
    assert chosen.sum(dim=1).tolist() == [2, 1, 2] and not (chosen & ~maskable).any()
    capped = sample_caption_mask(maskable, 0.9, 3, torch.Generator().manual_seed(0))
    assert capped.sum(dim=1).tolist() == [3, 2, 3]  # at most max_masked, at most what is maskable


def test_next_token_labels_shift_the_caption():
    ids = torch.tensor([[2, 10, 11, 3, 0, 0]])
    labels = next_token_labels(ids, ids != 0)
    assert labels.tolist() == [[10, 11, 3, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]


def test_the_batch_has_oscars_layout(demo_data):
    corpus = CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)
    dataset = CaptionDataset([corpus], max_regions=6)
    tokenizer = WordPieceTokenizer(bert_vocab())
    batch = CaptionCollate(tokenizer, "masked", max_caption_tokens=16, max_tokens=30, fixed=True)(
        [dataset[i] for i in range(4)]
    )
    caption, tags = batch.text.input_ids[:, :16], batch.tags()
    assert (caption[:, 0] == tokenizer.cls_id).all() and (batch.text.token_type_ids[:, :16] == 0).all()
    assert (tags.token_type_ids[tags.text_mask] == 1).all() and tags.input_ids.shape[1] <= 30 - 16
    masked = batch.labels != IGNORE_INDEX
    assert masked.any(dim=1).all() and (masked.sum(dim=1) <= 3).all()
    # Tags and regions never see the caption; caption tokens see their past, the tags and the regions.
    mask = batch.attention_mask_3d
    assert not mask[:, 16:, :16].any() and not mask[:, 3, 4:16].any() and mask[:, 3, :4].all()
    per_image = CaptionDataset([corpus], per_image=True, max_regions=6)
    assert len(per_image) == len({e.image_id for e in corpus.read()}) and len(per_image[0].references) >= 1


@pytest.mark.slow
def test_demo_config_fits_validates_predicts_and_is_scored(environment, tmp_path, capsys):
    cli = instantiate(CONFIGS / "demo_captioning.yaml")
    assert isinstance(cli.model, CaptioningModule) and cli.model.objective == "masked"
    overrides = [*CPU, f"--trainer.default_root_dir={tmp_path}", "--model.init_args.decoding.max_length=6"]
    vlp_main(["fit", "--config", str(CONFIGS / "demo_captioning.yaml"), "--trainer.fast_dev_run=true", *overrides])
    vlp_main(["predict", "--config", str(CONFIGS / "demo_captioning.yaml"), *overrides])
    results = json.loads((tmp_path / "caption_results.json").read_text())
    world = Path(environment["VLP_DEMO_DIR"]) / "world"
    test_images = {
        a["image_id"] for a in json.loads((world / "annotations/captions_test.json").read_text())["annotations"]
    }
    assert {entry["image_id"] for entry in results} == test_images
    assert all(isinstance(entry["caption"], str) for entry in results)
    capsys.readouterr()
    annotations = world / "annotations/captions_test.json"
    argv = ["eval", "caption", f"--annotations={annotations}", f"--results={tmp_path / 'caption_results.json'}"]
    assert vlp_main([*argv, "--no-spice"]) == 0
    assert "CIDEr" in capsys.readouterr().out


@pytest.mark.slow
def test_full_size_config_has_oscars_recipe_and_fits(environment, tmp_path):
    cli = instantiate(CONFIGS / "captioning.yaml", "--model.init_args.init_from=null")
    module, data = cli.model, cli.datamodule
    assert isinstance(module, CaptioningModule) and isinstance(data, CaptionDataModule)
    settings = module.optimizer_settings
    assert (settings.lr, settings.weight_decay, settings.warmup_steps) == (3e-5, 0.05, 0)
    assert (data.loader.batch_size, data.max_caption_tokens, data.max_tokens, data.max_masked) == (64, 40, 70, 3)
    assert (module.decoding.beams, module.decoding.max_length, cli.trainer.max_epochs) == (5, 20, 30)
    overrides = [
        *SMALL_MODEL,
        *CPU,
        f"--trainer.default_root_dir={tmp_path}",
        "--model.init_args.decoding.max_length=5",
    ]
    vlp_main(["fit", "--config", str(CONFIGS / "captioning.yaml"), "--trainer.fast_dev_run=true", *overrides])
    # The Karpathy test images (from val2014) are the prediction set.
    vlp_main(["predict", "--config", str(CONFIGS / "captioning.yaml"), *overrides])
    results = json.loads((tmp_path / "caption_results.json").read_text())
    karpathy = json.loads(Path(environment["VLP_DATA"], "coco/dataset_coco.json").read_text())["images"]
    assert {entry["image_id"] for entry in results} == {
        image["cocoid"] for image in karpathy if image["split"] == "test"
    }


@pytest.mark.slow
def test_your_own_images_are_captioned_from_their_store(environment, tmp_path):
    store = Path(environment["VLP_DATA"], "features/coco/regions.h5")
    predict = "--data.init_args.predict=[{class_path: vlp.data.StoreImages, init_args: {store: " + str(store) + "}}]"
    overrides = [
        *SMALL_MODEL,
        *CPU,
        f"--trainer.default_root_dir={tmp_path}",
        "--model.init_args.decoding.max_length=3",
    ]
    vlp_main(["predict", "--config", str(CONFIGS / "captioning.yaml"), predict, *overrides])
    results = json.loads((tmp_path / "caption_results.json").read_text())
    assert len(results) == len(RegionStore(store))


def test_drop_worst_leaves_out_the_highest_losses():
    losses = torch.tensor([0.1, 5.0, 0.3, 0.2, 4.0])
    assert drop_worst(losses, 0.0) == pytest.approx(losses.mean())
    assert drop_worst(losses, 0.4) == pytest.approx((0.1 + 0.3 + 0.2) / 3)  # 5.0 and 4.0 are dropped
    assert drop_worst(torch.tensor([2.0]), 0.9) == pytest.approx(2.0)  # one target is always kept


def run_captioning(command: str, root: Path, devices: int) -> None:
    """`vlp COMMAND` with the demo captioning config in a fresh process, on `devices` CPU processes (gloo)."""
    argv = [sys.executable, "-m", "vlp.cli.main", command, "--config", str(CONFIGS / "demo_captioning.yaml")]
    argv += ["--trainer.accelerator=cpu", f"--trainer.devices={devices}", "--data.init_args.loader.num_workers=0"]
    argv += [f"--trainer.default_root_dir={root}", "--model.init_args.decoding.max_length=4"]
    argv += ["--trainer.strategy=ddp"] if devices > 1 else []
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def logged(root: Path, name: str = "val/cider") -> float:
    rows = list(csv.DictReader((root / "lightning_logs/version_0/metrics.csv").open()))
    return float(next(row[name] for row in rows if row.get(name)))


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_give_the_single_process_cider_and_captions(environment, tmp_path):
    for devices in (1, 2):
        run_captioning("validate", tmp_path / f"validate{devices}", devices)
        run_captioning("predict", tmp_path / f"predict{devices}", devices)
    for name in ("val/cider", "val/bleu4", "val/rouge_l"):
        assert logged(tmp_path / "validate2", name) == pytest.approx(logged(tmp_path / "validate1", name), abs=1e-9)
    one, two = (json.loads((tmp_path / f"predict{d}" / "caption_results.json").read_text()) for d in (1, 2))
    assert two == one and len(one) > 1  # every image once, in the dataset's order


def test_scst_loss_uses_the_leave_one_out_or_greedy_baseline():
    log_probs = torch.tensor([[-1.0, -2.0, -3.0]], requires_grad=True)
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    loss = scst_loss(log_probs, rewards, "mean")
    # Baselines (2 + 3) / 2, (1 + 3) / 2, (1 + 2) / 2 -> advantages -1.5, 0, 1.5.
    assert float(loss.detach()) == pytest.approx(-((-1.5 * -1.0) + 0.0 + (1.5 * -3.0)) / 3)
    loss.backward()
    assert log_probs.grad[0].tolist() == pytest.approx([0.5, 0.0, -0.5])  # raise the better sample's probability
    greedy = scst_loss(log_probs.detach(), rewards, "greedy", torch.tensor([2.0]))
    assert float(greedy) == pytest.approx(-((-1.0 * -1.0) + 0.0 + (1.0 * -3.0)) / 3)
    with pytest.raises(ValueError, match="greedy captions' rewards"):
        scst_loss(log_probs, rewards, "greedy")


def test_cider_rewards_score_against_the_cached_corpus():
    references = {"1": ["a red circle", "a small red circle"], "2": ["two blue squares"]}
    reward = CiderReward(references)
    scores = reward(["1", "2", "1"], ["a red circle", "two blue squares", "blue squares"])
    corpus = CiderD({image: [text.split() for text in texts] for image, texts in references.items()})
    assert scores.tolist() == pytest.approx(
        [
            corpus.score(["a", "red", "circle"], [t.split() for t in references["1"]]),
            corpus.score(["two", "blue", "squares"], [["two", "blue", "squares"]]),
            corpus.score(["blue", "squares"], [t.split() for t in references["1"]]),
        ]
    )
    assert scores[0] > scores[2]
    with pytest.raises(KeyError, match="image ids"):
        reward(["9"], ["a star"])


@pytest.mark.slow
def test_the_scst_stage_starts_from_the_exported_cross_entropy_model(environment, tmp_path, monkeypatch):
    cli = instantiate(CONFIGS / "captioning_scst.yaml", "--model.init_args.init_from=null")
    module = cli.model
    assert module.scst and (module.scst_samples, module.scst_baseline) == (5, "mean")
    assert (module.optimizer_settings.lr, cli.datamodule.loader.batch_size, cli.trainer.max_epochs) == (5e-6, 16, 5)
    fast = ["--trainer.fast_dev_run=true", "--model.init_args.decoding.max_length=4", *CPU]
    vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "captioning.yaml"),
            *SMALL_MODEL,
            *fast,
            f"--trainer.default_root_dir={tmp_path / 'xe'}",
        ]
    )
    assert (tmp_path / "xe" / "finetuned" / "model.safetensors").is_file()
    monkeypatch.setenv("VLP_FINETUNED", str(tmp_path / "xe" / "finetuned"))
    small = [flag for flag in SMALL_MODEL if "init_from" not in flag]
    vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "captioning_scst.yaml"),
            *small,
            *fast,
            "--model.init_args.scst_baseline=greedy",
            f"--trainer.default_root_dir={tmp_path / 'scst'}",
        ]
    )
    assert (tmp_path / "scst" / "finetuned" / "model.safetensors").is_file()


@pytest.mark.slow
def test_constrained_decoding_puts_the_image_tags_into_the_captions(environment, tmp_path):
    overrides = [*CPU, f"--trainer.default_root_dir={tmp_path}", "--model.init_args.decoding.max_length=8"]
    overrides += ["--model.init_args.constraints=2", "--model.init_args.decoding.beams=2"]
    vlp_main(["predict", "--config", str(CONFIGS / "demo_captioning.yaml"), *overrides])
    results = {
        entry["image_id"]: entry["caption"] for entry in json.loads((tmp_path / "caption_results.json").read_text())
    }
    store = RegionStore(environment["VLP_DEMO_STORE"])
    for image_id, caption in results.items():
        tags = list(dict.fromkeys(store.label_names_of(image_id)))[:2]
        for tag in tags:
            assert tag in caption, (image_id, caption, tags)


def test_the_shuffled_control_shows_every_image_another_images_regions(demo_data):
    corpus = CocoCaptionsCorpus(demo_data.world.captions["val"], demo_data.store)
    real = CaptionDataset([corpus], per_image=True, max_regions=6)
    shuffled = CaptionDataset([corpus], per_image=True, max_regions=6, shuffle_seed=0)
    shown = {}
    for index in range(len(real)):
        assert shuffled[index].references == real[index].references  # the texts stay with their image
        matches = [j for j in range(len(real)) if np.array_equal(shuffled[index].features, real[j].features)]
        assert index not in matches and len(matches) >= 1
        shown[index] = matches[0]
    assert sorted(shown.values()) == list(range(len(real)))  # every image's regions are shown exactly once


@pytest.mark.slow
def test_the_demo_captions_with_real_and_shuffled_regions_and_compares_them(environment, capsys):
    quick = ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--data.init_args.loader.num_workers=0"]
    status = demo_main(["--run-dir", environment["VLP_DEMO_DIR"], *quick, "--model.init_args.decoding.max_length=4"])
    assert status == 0
    report = capsys.readouterr().out
    assert "CIDEr" in report and "CIDEr-D ratio" in report and "a reference:" in report
    root = Path(environment["VLP_DEMO_DIR"]) / "finetune" / "captioning"
    real, shuffled = (json.loads((root / f"{name}_results.json").read_text()) for name in ("real", "shuffled"))
    assert [entry["image_id"] for entry in real] == [entry["image_id"] for entry in shuffled]
    summary = StageSummary.load(root / "demo_summary.captioning.json")
    scores = {name: json.loads((root / f"{name}_scores.json").read_text()) for name in ("real", "shuffled")}
    assert summary.value == scores["real"]["CIDEr"] and summary.ratio
    assert summary.controls == {"regions shuffled at test": scores["shuffled"]["CIDEr"]}


@pytest.mark.slow
def test_the_shuffle_flag_given_to_fitting_shuffles_the_training_images_too(environment):
    """`vlp demo --full`'s trained control: with the flag, every split (training included) shows other images."""
    plain, shuffled = plain_and_shuffled(CONFIGS / "demo_captioning.yaml", CaptionDataModule)
    for split in ("train", "val"):
        real, other = plain.datasets[split], shuffled.datasets[split]
        moved = sum(not np.array_equal(real[i].features, other[i].features) for i in range(len(real)))
        assert moved >= 0.9 * len(real), split  # a permutation leaves few images where they were
