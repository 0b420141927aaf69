"""VLModel behaviour: padding, 3-D masks, incremental decoding with the key/value cache, input checks, config."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from tests.model.factories import make_batch, randomize_, tiny, typed
from vlp.model import EmbeddingProjection, RegionInputs, TextInputs, VLConfig, VLModel
from vlp.model.masks import seq2seq_mask

CAPTION, TAGS, REGIONS = 5, 4, 3


def model(**changes: object) -> VLModel:
    return randomize_(VLModel(tiny(**changes))).eval()


def captioning_batch(config: VLConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Two examples `[caption, tags, regions]` with padded tags and regions, and their seq2seq mask."""
    batch = make_batch(
        config, text_lengths=[CAPTION + 4, CAPTION + 2], region_lengths=[3, 2], text=CAPTION + TAGS, regions=REGIONS
    )
    tag_mask = batch.text_mask[:, CAPTION:]
    context = torch.cat([tag_mask, batch.region_mask], dim=1)
    return batch.tensors() | {"token_type_ids": None}, seq2seq_mask(CAPTION, context)


@torch.no_grad()
def test_padding_changes_nothing_and_outputs_zeros():
    vl = model()
    batch = make_batch(vl.config, text_lengths=[7, 4], region_lengths=[3, 5], text=7, regions=5)
    wider = make_batch(vl.config, text_lengths=[7, 4], region_lengths=[3, 5], text=10, regions=8, seed=1)
    wider.input_ids[:, :7], wider.token_type_ids[:, :7] = batch.input_ids, batch.token_type_ids
    wider.region_features[:, :5], wider.region_geometry[:, :5] = batch.region_features, batch.region_geometry

    narrow, wide = vl(**typed(batch.tensors())), vl(**typed(wider.tensors()))
    assert_close(wide.sequence_output[:, :7][batch.text_mask], narrow.sequence_output[:, :7][batch.text_mask])
    assert_close(wide.sequence_output[:, 10:15][batch.region_mask], narrow.sequence_output[:, 7:][batch.region_mask])
    assert_close(wide.pooled_output, narrow.pooled_output)
    assert (wide.sequence_output[~wider.mask] == 0).all()


def _parameter_gradients(vl: VLModel, weight: torch.Tensor, batches: list[dict[str, torch.Tensor]]) -> dict:
    """Gradients of sum over `batches` of (real token states . weight)^2 + pooled^2 with respect to every parameter."""
    vl.zero_grad()
    for inputs in batches:
        output = vl(**typed(inputs))
        real = torch.cat([inputs["text_mask"], inputs["region_mask"]], dim=1)
        ((output.sequence_output[real] @ weight).pow(2).sum() + output.pooled_output.pow(2).sum()).backward()
    return {name: parameter.grad.clone() for name, parameter in vl.named_parameters() if parameter.grad is not None}


def test_gradients_of_a_padded_batch_equal_those_of_its_examples_alone():
    # The packed layout gathers and scatters rows with a custom backward; a wrong one would only show in gradients.
    vl = model().train()
    batch = make_batch(vl.config, text_lengths=[7, 4, 6], region_lengths=[3, 5, 0], text=8, regions=6)
    weight = torch.randn(vl.config.hidden_size, generator=torch.Generator().manual_seed(0))
    inputs = batch.tensors()
    alone = []
    for row in range(3):
        text, regions = int(batch.text_lengths[row]), int(batch.region_lengths[row])
        one = {key: value[row : row + 1] for key, value in inputs.items()}
        for key in ("input_ids", "token_type_ids", "text_mask"):
            one[key] = one[key][:, :text]
        for key in ("region_features", "region_geometry", "region_mask"):
            one[key] = one[key][:, :regions]
        alone.append(one)
    together = _parameter_gradients(vl, weight, [inputs])
    separately = _parameter_gradients(vl, weight, alone)
    assert together.keys() == separately.keys()
    for name, gradient in together.items():
        assert_close(gradient, separately[name], rtol=1e-4, atol=1e-4, msg=name)


@torch.no_grad()
def test_image_only_pass_is_the_joint_pass_with_all_text_masked():
    vl = model()
    batch = make_batch(vl.config, text_lengths=[0, 0], region_lengths=[4, 6])
    regions = {key: value for key, value in batch.tensors().items() if key.startswith("region")}
    image_only = vl(**typed(regions))
    joint = vl(**typed(batch.tensors()))
    text = batch.input_ids.shape[1]
    assert image_only.sequence_output.shape == (2, 6, vl.config.hidden_size)
    assert_close(image_only.sequence_output, joint.sequence_output[:, text:])
    first_region = image_only.sequence_output[:, 0]
    assert_close(image_only.pooled_output, torch.tanh(vl.pooler(first_region)))


@torch.no_grad()
def test_3d_mask_blocks_what_it_should():
    vl = model()
    inputs, mask = captioning_batch(vl.config)
    before = vl(**typed(inputs), attention_mask_3d=mask).sequence_output
    changed = 2
    perturbed = inputs | {"input_ids": inputs["input_ids"].clone()}
    perturbed["input_ids"][:, changed] = (perturbed["input_ids"][:, changed] + 1) % vl.config.vocab_size
    after = vl(**typed(perturbed), attention_mask_3d=mask).sequence_output

    assert_close(after[:, :changed], before[:, :changed])  # earlier caption tokens cannot see it
    assert_close(after[:, CAPTION:], before[:, CAPTION:])  # tags and regions never see the caption
    assert not torch.allclose(after[:, changed:CAPTION], before[:, changed:CAPTION])  # later caption tokens do

    padded_region = inputs | {"region_features": inputs["region_features"].clone()}
    padded_region["region_features"][1, 2] += 10.0  # region 2 of example 1 is padding
    assert_close(vl(**typed(padded_region), attention_mask_3d=mask).sequence_output, before)


@torch.no_grad()
def test_incremental_decoding_equals_full_recomputation():
    vl = model()
    inputs, mask = captioning_batch(vl.config)
    full = vl(**typed(inputs), attention_mask_3d=mask)
    caption = inputs["input_ids"][:, :CAPTION]

    # The context (tags and regions) first, at the tags' positions after the caption's, then one caption token a step.
    context = inputs | {"input_ids": inputs["input_ids"][:, CAPTION:], "text_mask": inputs["text_mask"][:, CAPTION:]}
    step = vl(**typed(context), use_cache=True, position_ids=torch.arange(CAPTION, CAPTION + TAGS))
    real_context = torch.cat([context["text_mask"], context["region_mask"]], dim=1)
    assert_close(step.sequence_output[real_context], full.sequence_output[:, CAPTION:][real_context])
    cache = step.past_key_values
    for index in range(CAPTION):
        step = vl(
            TextInputs(caption[:, index : index + 1]),
            past_key_values=cache,
            use_cache=True,
            position_ids=torch.tensor([index]),
        )
        assert_close(step.sequence_output[:, 0], full.sequence_output[:, index])
        cache = step.past_key_values
    # Padding is never cached: the longest real context (4 tags and 3 regions) sets the slots, not the padded 4 + 3.
    assert cache.length == 7 + CAPTION and cache.text_length == TAGS + CAPTION

    # Two caption tokens at once: the 3-D mask covers [cached keys, new tokens].
    start = vl(**typed(context), use_cache=True, position_ids=torch.arange(CAPTION, CAPTION + TAGS)).past_key_values
    pair_mask = torch.cat(
        [torch.ones(2, 2, start.length, dtype=torch.bool), torch.ones(2, 2).tril().bool().expand(2, -1, -1)], 2
    )
    pair = vl(
        TextInputs(caption[:, :2]), past_key_values=start, attention_mask_3d=pair_mask, position_ids=torch.arange(2)
    )
    assert_close(pair.sequence_output, full.sequence_output[:, :2])


@torch.no_grad()
def test_default_positions_continue_after_the_cached_text():
    vl = model()
    text = make_batch(vl.config, text_lengths=[6, 6], region_lengths=[0, 0], text=6).input_ids
    causal = torch.ones(6, 6, dtype=torch.bool).tril().expand(2, -1, -1)
    full = vl(TextInputs(text), attention_mask_3d=causal).sequence_output
    cache = vl(TextInputs(text[:, :3]), attention_mask_3d=causal[:, :3, :3], use_cache=True).past_key_values
    assert cache.text_length == 3
    for index in range(3, 6):
        step = vl(TextInputs(text[:, index : index + 1]), past_key_values=cache, use_cache=True)
        assert_close(step.sequence_output[:, 0], full[:, index])
        cache = step.past_key_values


@torch.no_grad()
def test_cache_reorder_selects_hypotheses():
    vl = model()
    batch = make_batch(vl.config, text_lengths=[4, 2], region_lengths=[2, 3], text=4, regions=3)
    cache = vl(**typed(batch.tensors()), use_cache=True).past_key_values
    order = torch.tensor([1, 1, 0])
    reordered = {key: value[order] for key, value in batch.tensors().items()}
    expected_cache = vl(**typed(reordered), use_cache=True).past_key_values
    token = torch.tensor([[5], [6], [7]])
    assert_close(
        vl(TextInputs(token), past_key_values=cache.reorder(order)).sequence_output,
        vl(TextInputs(token), past_key_values=expected_cache).sequence_output,
    )


def test_dropout_only_in_training():
    vl = randomize_(VLModel(tiny(hidden_dropout=0.2, attention_dropout=0.2)))
    batch = make_batch(vl.config, text_lengths=[5], region_lengths=[3])
    vl.train()
    assert not torch.equal(vl(**typed(batch.tensors())).sequence_output, vl(**typed(batch.tensors())).sequence_output)
    vl.eval()
    assert torch.equal(vl(**typed(batch.tensors())).sequence_output, vl(**typed(batch.tensors())).sequence_output)


def test_bad_inputs_are_refused():
    vl = model()
    batch = make_batch(vl.config, text_lengths=[5, 0], region_lengths=[3, 0])
    with pytest.raises(ValueError, match="at least one real token"):
        vl(**typed(batch.tensors()))
    batch = make_batch(vl.config, text_lengths=[5], region_lengths=[3])
    with pytest.raises(ValueError, match="6-d geometry"):
        vl(**typed(batch.tensors() | {"region_geometry": torch.zeros(1, 6, 7)}))
    with pytest.raises(ValueError, match="no mask embedding"):
        vl(**typed(batch.tensors()), masked_regions=torch.zeros(1, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="give text, regions or both"):
        vl()
    with pytest.raises(ValueError, match=r"attention_mask_3d should be \[B, L, P \+ L\] = \[1, 15, 15\]"):
        vl(**typed(batch.tensors()), attention_mask_3d=torch.ones(1, 15, 14))


def test_config_reports_every_problem_at_once():
    with pytest.raises(ValueError) as error:
        VLConfig(hidden_size=30, num_heads=4, hidden_act="swiglu", region_style="vilbert")  # type: ignore[arg-type]
    message = str(error.value)
    assert "not a multiple of num_heads" in message and "swiglu" in message and "vilbert" in message
    with pytest.raises(ValueError, match="hiden_size, layers"):
        VLConfig.from_dict({"hiden_size": 3, "layers": 2})
    config = tiny(region_style="uniter")
    assert VLConfig.from_dict(config.to_dict()) == config
    assert config.geometry_dim == 7 and tiny().geometry_dim == 6


@torch.no_grad()
def test_encode_text_and_image_are_unit_norm_projections_of_the_single_modality_passes():
    vl = model()
    batch = make_batch(vl.config, text_lengths=[7, 4], region_lengths=[3, 5], text=7, regions=5)
    batch.token_type_ids = (torch.arange(7) >= 3).long().expand(2, -1)  # text b from position 3 on
    projection = randomize_(EmbeddingProjection(vl.config.hidden_size, 8))
    texts, images = vl.encode_text(batch.text, projection), vl.encode_image(batch.regions, projection)
    assert texts.shape == images.shape == (2, 8)
    assert_close(texts.norm(dim=-1), torch.ones(2))
    assert_close(images.norm(dim=-1), torch.ones(2))
    for row, regions in enumerate(batch.region_lengths.tolist()):
        # Each example alone and unpadded: its first segment (3 tokens), its real regions.
        first_segment = TextInputs(batch.input_ids[row : row + 1, :3])
        expected_text = F.normalize(projection.linear(vl(first_segment).pooled_output), dim=-1)
        assert_close(texts[row : row + 1], expected_text)
        own = RegionInputs(
            batch.region_features[row : row + 1, :regions], batch.region_geometry[row : row + 1, :regions]
        )
        expected_image = F.normalize(projection.linear(vl(regions=own).pooled_output), dim=-1)
        assert_close(images[row : row + 1], expected_image)
