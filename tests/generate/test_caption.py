"""Caption decoding through the key/value cache gives exactly the captions of recomputing the whole sequence."""

from __future__ import annotations

import pytest
import torch

from tests.model.factories import randomize_, tiny
from vlp.generate import BeamSettings, beam_search, greedy_search
from vlp.generate.caption import CachedCaptionDecoder, CaptionContext, RecomputingCaptionDecoder
from vlp.model import RegionInputs, TextInputs, TiedPredictionHead, VLModel

CAPTION, TAGS, REGIONS, START, END = 12, 5, 4, 2, 3


@pytest.fixture(scope="module")
def captioner() -> tuple[VLModel, TiedPredictionHead, CaptionContext]:
    torch.manual_seed(0)
    config = tiny(max_position_embeddings=CAPTION + TAGS)
    model = randomize_(VLModel(config)).eval()
    head = randomize_(TiedPredictionHead(config.hidden_size, config.vocab_size, initializer_range=0.02), seed=1).eval()
    generator = torch.Generator().manual_seed(2)
    tag_mask = torch.arange(TAGS) < torch.tensor([[5], [3], [4]])
    region_mask = torch.arange(REGIONS) < torch.tensor([[4], [2], [3]])
    context = CaptionContext(
        TextInputs(
            torch.randint(5, config.vocab_size, (3, TAGS), generator=generator), torch.ones(3, TAGS).long(), tag_mask
        ),
        RegionInputs(
            torch.randn(3, REGIONS, config.region_feature_dim, generator=generator),
            torch.rand(3, REGIONS, config.geometry_dim, generator=generator),
            region_mask,
        ),
        CAPTION,
    )
    return model, head, context


@pytest.mark.parametrize("mask_id", [None, 4])
@torch.no_grad()
def test_each_step_gives_the_log_probabilities_of_the_whole_sequence(captioner, mask_id):
    model, head, context = captioner
    cached = CachedCaptionDecoder(model, head, context, mask_id)
    full = RecomputingCaptionDecoder(model, head, context, mask_id)
    for token in ([START] * 3, [7, 8, 9], [10, 10, 11], [12, 13, 14]):
        tokens = torch.tensor(token)
        torch.testing.assert_close(cached.step(tokens), full.step(tokens), atol=1e-5, rtol=1e-5)
    rows = torch.tensor([2, 0, 0])
    cached.reorder(rows)
    full.reorder(rows)
    tokens = torch.tensor([15, 16, 17])
    torch.testing.assert_close(cached.step(tokens), full.step(tokens), atol=1e-5, rtol=1e-5)


def test_the_mask_changes_what_is_read(captioner):
    model, head, context = captioner
    with torch.no_grad():
        tokens = torch.tensor([START] * 3)
        plain = CachedCaptionDecoder(model, head, context).step(tokens)
        masked = CachedCaptionDecoder(model, head, context, mask_id=4).step(tokens)
    assert not torch.allclose(plain, masked, atol=1e-3)


@pytest.mark.parametrize("mask_id", [None, 4])
@torch.no_grad()
def test_cached_and_recomputed_decoding_give_the_same_captions(captioner, mask_id):
    model, head, context = captioner
    decoders = (CachedCaptionDecoder, RecomputingCaptionDecoder)
    greedy = [
        greedy_search(decoder(model, head, context, mask_id), 3, START, END, max_length=8) for decoder in decoders
    ]
    assert greedy[0] == greedy[1] and all(len(tokens) > 0 for tokens in greedy[0])
    settings = BeamSettings(beams=3, max_length=8)
    beams = [beam_search(decoder(model, head, context, mask_id), 3, START, END, settings) for decoder in decoders]
    assert [[h.tokens for h in hypotheses] for hypotheses in beams[0]] == [
        [h.tokens for h in hypotheses] for hypotheses in beams[1]
    ]
