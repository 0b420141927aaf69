"""Each corruption of `vlp.data.corruptions` alone, on hand-made inputs whose result is known."""

from __future__ import annotations

import torch

from vlp.data.batch import RegionInputs, TextInputs
from vlp.data.corpora import TextExample
from vlp.data.corruptions import (
    BatchTexts,
    condition_on_one_modality,
    mask_regions,
    maskable_tokens,
    replace_captions,
    replace_tags,
)
from vlp.objectives.oscar_contrastive import CAPTION_REPLACED, MATCHED, TAGS_REPLACED


class ThreeExamples:
    """The part of a `PretrainDataset` that pollution reads: three examples' texts and tags."""

    texts = ("a red circle", "two blue squares", "a green star")

    def second_words(self, index: int) -> list[str]:
        return [f"tag{index}"]

    def example(self, index: int) -> TextExample:
        return TextExample(str(index), self.texts[index])


def batch_texts() -> BatchTexts:
    return BatchTexts([["w0"], ["w1"], ["w2"]], [["t0"], ["t1"], ["t2"]], [True, True, True])


def test_tag_pollution_replaces_text_b_and_caption_replacement_the_text():
    labels = torch.tensor([MATCHED, TAGS_REPLACED, CAPTION_REPLACED])
    replacements = torch.tensor([1, 2, 0])
    texts = batch_texts()
    replace_tags(texts, labels, replacements, ThreeExamples())  # type: ignore[arg-type]
    assert texts.second == [["t0"], ["tag2"], ["t2"]] and texts.words == [["w0"], ["w1"], ["w2"]]
    replace_captions(texts, labels, replacements, ThreeExamples())  # type: ignore[arg-type]
    assert texts.words == [["w0"], ["w1"], ["a", "red", "circle"]]
    assert texts.graph_usable == [True, True, False]  # a borrowed caption's graph describes another image


def test_maskable_tokens_spare_special_tokens_padding_and_polluted_tags_when_asked():
    # [CLS] w w [SEP] t t [SEP] [PAD]; ids 2 = CLS, 3 = SEP, 0 = PAD
    ids = torch.tensor([[2, 10, 11, 3, 12, 13, 3, 0]] * 2)
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0]] * 2)
    text = TextInputs(ids, types, ids != 0)
    pollution = torch.tensor([MATCHED, TAGS_REPLACED])
    words_and_tags = torch.tensor([False, True, True, False, True, True, False, False])
    assert torch.equal(maskable_tokens(text, (0, 2, 3), pollution, True), words_and_tags.expand(2, -1))
    spared = maskable_tokens(text, (0, 2, 3), pollution, False)
    assert torch.equal(spared[0], words_and_tags)
    assert torch.equal(spared[1], torch.tensor([False, True, True, False, False, False, False, False]))


def test_conditional_masking_keeps_one_modality_per_example():
    tokens, regions = torch.ones(64, 5, dtype=torch.bool), torch.ones(64, 4, dtype=torch.bool)
    condition_on_one_modality(tokens, regions, torch.Generator().manual_seed(0))
    text_rows, region_rows = tokens.any(dim=1), regions.any(dim=1)
    assert torch.equal(text_rows, ~region_rows)  # exactly one modality each
    assert 10 < int(text_rows.sum()) < 54  # both kinds occur


def test_region_masking_off_draws_nothing_and_on_masks_only_real_regions():
    regions = RegionInputs(torch.zeros(2, 3, 4), torch.zeros(2, 3, 6), torch.tensor([[1, 1, 0], [1, 0, 0]]).bool())
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    assert not mask_regions(regions, 0.0, generator).any()
    assert torch.equal(generator.get_state(), state)  # off: the stream is left for the next corruption
    masked = mask_regions(regions, 1.0, generator)
    assert not (masked & ~regions.mask).any()
