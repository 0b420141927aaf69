"""Evaluation scores are float32 whatever the training precision: under `bf16-mixed` (autocast), the VQA answer
logits, the retrieval matching scores and the embeddings come from their heads computed in float32 on the
transformer's output, so that argmax and rankings do not tie or swap candidates at bf16's resolution."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from finetune.retrieval.evaluate import matching_scores
from finetune.retrieval.pairs import pair_inputs
from finetune.vqa import VQAModule
from tests.finetune.test_retrieval import Gallery
from tests.finetune.vqa_setup import VQAData, tiny_config
from tests.model.factories import randomize_


def bf16_autocast() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


@torch.no_grad()
def test_vqa_answer_logits_are_float32_under_bf16_autocast(vqa_data: VQAData) -> None:
    batch = next(iter(vqa_data.datamodule().val_dataloader()))
    module = randomize_(VQAModule(tiny_config(), answers=list(vqa_data.vocabulary.answers))).eval()
    head = module.heads["classifier"]
    with bf16_autocast():
        logits = module(batch)
        pooled = module.model(batch.text, batch.regions).pooled_output
        autocast_only = head(pooled)
    assert pooled.dtype == torch.bfloat16 and logits.dtype == torch.float32
    assert_close(logits, head(pooled.float()), rtol=1e-6, atol=1e-6)
    assert (autocast_only.float() - logits).abs().max() > 1e-3


@torch.no_grad()
def test_retrieval_matching_scores_and_embeddings_are_float32_under_bf16_autocast(demo_data) -> None:
    setup = Gallery(demo_data)
    batch = setup.collate([setup.gallery[i] for i in range(3)])
    rows = torch.arange(3)
    head, model = setup.module.heads["itm"], setup.module.model
    with bf16_autocast():
        scores = setup.scorer(batch.captions, batch.images, rows, rows)
        text, positions, regions = pair_inputs(batch.captions, batch.images, 24, setup.tokenizer.sep_id, True)
        pooled = model(text, regions, position_ids=positions).pooled_output
        embeddings = model.encode_text(batch.captions.text(), setup.module.heads["text_projection"])
    assert scores.dtype == embeddings.dtype == torch.float32 and pooled.dtype == torch.bfloat16
    assert_close(scores, matching_scores(head(pooled.float())), rtol=1e-6, atol=1e-6)
