"""Checks a converted model against the original architecture on random inputs (`vlp convert --verify`)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertModel

from vlp.convert.base import VLBundle
from vlp.convert.files import find_weights, read_state_dict
from vlp.convert.reference import OscarReference, UniterReference, bert_config, uniter_gather_layout
from vlp.convert.uniter import uniter_files
from vlp.model import RegionInputs, TextInputs

VERIFIABLE = ("hf-bert", "oscar", "uniter")


@torch.no_grad()
def verify(bundle: VLBundle, source_format: str, source: str | Path, seed: int = 0) -> dict[str, float]:
    """Runs the converted model and the original architecture, loaded from `source`, in eval mode on random inputs.

    Args:
        bundle: The converted model.
        source_format: `hf-bert` (compared with `transformers.BertModel`, text only), `oscar` or `uniter` (compared
            with `vlp.convert.reference`, text and regions, some of both padded).
        source: The checkpoint the bundle was converted from (for UNITER, a folder or the `.pt` file).
        seed: Seed of the random inputs.

    Returns:
        The largest absolute differences of the sequence outputs (at real positions) and of the pooled outputs (NaN
        for a BERT saved without a pooler, whose pooler the conversion initialised fresh).
    """
    if source_format not in VERIFIABLE:
        raise ValueError(f"can verify conversions from {', '.join(VERIFIABLE)}, not {source_format!r}")
    generator = torch.Generator().manual_seed(seed)
    config, model = bundle.config, bundle.model.eval()
    batch, text, regions = 2, min(12, config.max_position_embeddings), 5
    input_ids = torch.randint(config.vocab_size, (batch, text), generator=generator)
    token_types = torch.zeros_like(input_ids)
    text_lengths, region_lengths = torch.tensor([text, text - 3]), torch.tensor([regions - 2, regions])
    text_mask = torch.arange(text) < text_lengths[:, None]
    region_mask = torch.arange(regions) < region_lengths[:, None]
    features = torch.randn(batch, regions, config.region_feature_dim, generator=generator)
    geometry = torch.rand(batch, regions, config.geometry_dim, generator=generator)
    path = Path(source)
    has_pooler = True

    if source_format == "hf-bert":
        reference = BertModel(bert_config(config)).eval()
        state = read_state_dict(find_weights(path))
        prefix = "bert." if any(key.startswith("bert.") for key in state) else ""
        state = {key.removeprefix(prefix): value for key, value in _backbone(state, prefix).items()}
        missing = reference.load_state_dict(state, strict=False).missing_keys
        has_pooler = not any(key.startswith("pooler.") for key in missing)
        expected = reference(input_ids=input_ids, attention_mask=text_mask.long(), token_type_ids=token_types)
        expected_sequence, expected_pooled = expected.last_hidden_state, expected.pooler_output
        ours = model(TextInputs(input_ids, token_types, text_mask))
        sequence, valid = ours.sequence_output, text_mask
    elif source_format == "oscar":
        reference = OscarReference(config).eval()
        reference.load_state_dict(_backbone(read_state_dict(find_weights(path)), "bert."), strict=True)
        valid = torch.cat([text_mask, region_mask], dim=1)
        expected_sequence, expected_pooled = reference(
            input_ids, token_types, valid.long(), torch.cat([features, geometry], dim=-1)
        )
        ours = model(TextInputs(input_ids, token_types, text_mask), RegionInputs(features, geometry, region_mask))
        sequence = ours.sequence_output
    else:
        reference = UniterReference(config).eval()
        weights = path if path.is_file() else uniter_files(path)[0]
        reference.load_state_dict(_backbone(read_state_dict(weights), "uniter."), strict=True)
        gather_index, valid = uniter_gather_layout(text_lengths, region_lengths, text)
        expected_sequence, expected_pooled = reference(
            input_ids, torch.arange(text).unsqueeze(0), features, geometry, valid.long(), gather_index
        )
        ours = model(TextInputs(input_ids, token_types, text_mask), RegionInputs(features, geometry, region_mask))
        # UNITER's outputs sit at `gather_index` of the padded [text, regions] layout that ours keep.
        sequence = ours.sequence_output.gather(1, gather_index.unsqueeze(-1).expand(-1, -1, config.hidden_size))
    pooled = (expected_pooled - ours.pooled_output).abs().max().item() if has_pooler else float("nan")
    return {"sequence_output": (expected_sequence - sequence)[valid].abs().max().item(), "pooled_output": pooled}


def _backbone(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The backbone's tensors of a checkpoint, without the index buffers some transformers versions saved."""
    return {key: value for key, value in state.items() if key.startswith(prefix) and not key.endswith("_ids")}
