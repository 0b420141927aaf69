"""ALBEF-style ITM hard negatives in `PretrainModule`: the swapped images follow the step's InfoNCE similarity, rows of
one image are never each other's negatives, and the settings it cannot serve are refused."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningCLI

from tests.data.conftest import bert_vocab
from tests.pretrain.test_module import CONFIG, trainer
from vlp.data import (
    CocoCaptionsCorpus,
    Corruption,
    LoaderSettings,
    PretrainBatch,
    PretrainCollate,
    PretrainDataModule,
    PretrainDataset,
    VqaCorpus,
    WordPieceTokenizer,
)
from vlp.pretrain import ObjectiveWeights, PretrainModule, compute
from vlp.pretrain.compute import compute_objectives
from vlp.pretrain.module import HARD_NEGATIVE_STREAM
from vlp.train import OptimizerSettings

HARD = ObjectiveWeights(mlm=0.0, itm=1.0, infonce=1.0)
# Every text the collate pairs with another image, so that every row is redrawn.
ALL_SWAPPED = Corruption(matching=True, negative_probability=1.0)


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(bert_vocab())


@pytest.fixture(scope="module")
def captions(demo_data) -> PretrainDataset:
    return PretrainDataset([CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)])


def collate(dataset: PretrainDataset, tokenizer: WordPieceTokenizer, indices: list[int], tags: bool) -> PretrainBatch:
    return PretrainCollate(dataset, tokenizer, ALL_SWAPPED, max_tokens=40, tags=tags, fixed=True)(
        [dataset[i] for i in indices]
    )


def captions_of_images(dataset: PretrainDataset, images: int, per_image: int) -> list[int]:
    """Dataset indices of `per_image` captions of each of the first `images` images with that many captions."""
    by_image: dict[str, list[int]] = defaultdict(list)
    for index in range(len(dataset)):
        by_image[dataset.image_id(index)].append(index)
    groups = [indices[:per_image] for indices in by_image.values() if len(indices) >= per_image]
    assert len(groups) >= images
    return [index for group in groups[:images] for index in group]


class Spy:
    """Wraps a function of `vlp.pretrain.compute`, recording its arguments and result on every call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, transform=None) -> None:
        self.calls: list[tuple[tuple, object]] = []
        original = getattr(compute, name)

        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            self.calls.append((args, result))
            return result if transform is None else transform(result)

        monkeypatch.setattr(compute, name, wrapper)


def test_construction_needs_the_itm_and_infonce_objectives() -> None:
    with pytest.raises(ValueError, match="infonce"):
        PretrainModule(CONFIG, ObjectiveWeights(mlm=1.0, itm=1.0), itm_hard_negatives=True)
    with pytest.raises(ValueError, match="itm"):
        PretrainModule(CONFIG, ObjectiveWeights(mlm=1.0, infonce=1.0), itm_hard_negatives=True)
    module = PretrainModule(CONFIG, HARD, itm_hard_negatives=True)
    assert module.hparams.itm_hard_negatives is True


def test_the_cli_switches_it_on() -> None:
    cli = LightningCLI(
        LightningModule,
        subclass_mode_model=True,
        args=[
            "--model=vlp.pretrain.PretrainModule",
            "--model.init_args.config.hidden_size=32",
            "--model.init_args.config.num_layers=1",
            "--model.init_args.config.num_heads=2",
            "--model.init_args.config.intermediate_size=32",
            "--model.init_args.objectives={mlm: 1.0, itm: 1.0, infonce: 1.0}",
            "--model.init_args.itm_hard_negatives=true",
        ],
        run=False,
    )
    assert isinstance(cli.model, PretrainModule) and cli.model.itm_hard_negatives


def test_tags_as_text_b_are_refused(demo_data, captions, tokenizer) -> None:
    world = demo_data.world
    questions = PretrainDataset(
        [VqaCorpus(world.vqa_questions["train"], world.vqa_annotations["train"], demo_data.store)]
    )
    # Text b is the image's tags only for captions with tags on; a question's text b is its answer either way.
    assert collate(captions, tokenizer, list(range(6)), tags=True).matching.tags_follow_image
    assert not collate(captions, tokenizer, list(range(6)), tags=False).matching.tags_follow_image
    assert not collate(questions, tokenizer, list(range(6)), tags=True).matching.tags_follow_image

    module = PretrainModule(CONFIG, HARD, itm_hard_negatives=True)
    batch = collate(captions, tokenizer, list(range(6)), tags=True)
    with pytest.raises(ValueError, match=r"data\.tags: false"):
        compute_objectives(
            module.model, module.heads, batch, ["itm"], True, module.logit_scale(), torch.Generator().manual_seed(0)
        )


def test_swapped_images_skip_the_own_image_and_follow_the_similarity(captions, tokenizer, monkeypatch) -> None:
    # Four images with two captions each. The similarity favours the other caption of the same image (which must be
    # skipped) and, far less, the first row of the next image: that row is the one every text must get.
    indices = captions_of_images(captions, images=4, per_image=2)
    batch = collate(captions, tokenizer, indices, tags=False)
    rows = torch.arange(8)
    same_image = (rows[:, None] // 2) == (rows[None, :] // 2)
    wanted = (rows // 2 * 2 + 2) % 8
    similarity = torch.where(same_image, 1e4, 0.0)
    similarity[rows, wanted] = 50.0
    monkeypatch.setattr(compute, "in_batch_similarity", lambda *_: similarity)
    matching = Spy(monkeypatch, "_matching")
    torch.manual_seed(0)
    module = PretrainModule(CONFIG, HARD, itm_hard_negatives=True)
    heads = module.heads
    # ITM alone, as in a `sample` step: the InfoNCE embeddings are computed but take no gradient.
    outputs = compute_objectives(
        module.model, heads, batch, ["itm"], True, module.logit_scale(), torch.Generator().manual_seed(1)
    )
    outputs["itm"].loss.backward()
    view = matching.calls[-1][0][3]
    assert view.image_index.tolist() == wanted.tolist() and view.labels.tolist() == [0] * 8
    assert math.isfinite(outputs["itm"].loss.item())
    assert heads["itm"].linear.weight.grad is not None
    assert all(p.grad is None for name in ("text_projection", "image_projection") for p in heads[name].parameters())

    # Two captions of one image and nothing else: no other image to draw, both stay matched.
    lonely = collate(captions, tokenizer, indices[:2], tags=False)
    monkeypatch.setattr(compute, "in_batch_similarity", lambda *_: torch.zeros(2, 2))
    compute_objectives(module.model, heads, lonely, ["itm"], True, module.logit_scale(), torch.Generator())
    view = matching.calls[-1][0][3]
    assert view.image_index.tolist() == [0, 1] and view.labels.tolist() == [1, 1]


@pytest.mark.slow
def test_a_training_step_draws_negatives_from_the_infonce_similarity(demo_data, tmp_path, monkeypatch) -> None:
    # The InfoNCE similarity is sharpened a millionfold, so that each swapped text gets the most similar image of
    # another id.
    embeddings = Spy(monkeypatch, "info_nce_loss")
    similarity = Spy(monkeypatch, "in_batch_similarity", transform=lambda scores: scores * 1e6)
    matching = Spy(monkeypatch, "_matching")
    draws = Spy(monkeypatch, "pair_images")
    losses = Spy(monkeypatch, "itm_loss")
    data = PretrainDataModule(
        [CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)],
        vocab=str(demo_data.vocab),
        corruption=ALL_SWAPPED,
        tags=False,
        loader=LoaderSettings(batch_size=8, num_workers=0),
    )
    torch.manual_seed(0)
    module = PretrainModule(CONFIG, HARD, optimizer=OptimizerSettings(lr=1e-3, warmup_steps=0), itm_hard_negatives=True)
    trainer(tmp_path, max_steps=1).fit(module, data)  # two batches: one optimizer step accumulates two
    assert len(matching.calls) == len(similarity.calls) == len(embeddings.calls) == len(draws.calls) == 2
    # Seeded from the global seed and the batch count: the same on every process and on resuming.
    seeds = [args[1].initial_seed() for args, _ in draws.calls]
    assert seeds == [module.sampling_seed + HARD_NEGATIVE_STREAM + step for step in range(2)]
    for step in range(2):
        (texts, images, logit_scale), _ = embeddings.calls[step]
        scale = min(logit_scale.exp().item(), 100.0)
        expected = scale * F.cosine_similarity(texts.detach()[:, None], images.detach()[None, :], dim=-1)
        scores = similarity.calls[step][1]
        torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)
        (_, _, batch, view), _ = matching.calls[step]
        for row, image_id in enumerate(batch.image_ids):
            others = torch.tensor([other != image_id for other in batch.image_ids])
            if others.any():
                best = int(scores[row].masked_fill(~others, float("-inf")).argmax())
                assert (int(view.image_index[row]), int(view.labels[row])) == (best, 0)
            else:
                assert (int(view.image_index[row]), int(view.labels[row])) == (row, 1)
        assert math.isfinite(losses.calls[step][1].loss.item())
