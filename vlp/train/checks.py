"""Checks at `setup` that the data a task reads fits its model, before any step runs: a mismatch found at the first
step would name neither the store nor the setting."""

from __future__ import annotations

from vlp.model import VLConfig


def check_data_fits_model(config: VLConfig, datamodule: object | None) -> None:
    """Refuses data whose word pieces or region features the model cannot take.

    Args:
        config: the model's architecture.
        datamodule: the trainer's data module; other data (a plain DataLoader) is not checked.

    Raises:
        ValueError: naming the vocabulary or the region store and the config setting to change.
    """
    tokenizer = getattr(datamodule, "tokenizer", None)
    vocab_size = getattr(tokenizer, "vocab_size", None)
    if vocab_size is not None and vocab_size > config.vocab_size:
        where = getattr(tokenizer, "vocab_path", "the tokenizer")
        raise ValueError(
            f"{where} has {vocab_size} word pieces but the model's vocab_size is {config.vocab_size}: set "
            f"model.init_args.config.vocab_size to {vocab_size}, or give the data the model's vocabulary"
        )
    # `region_readers()`: the `RegionReader` of each dataset the data module has set up.
    readers = datamodule.region_readers() if hasattr(datamodule, "region_readers") else []
    for reader in readers:
        store, width = reader.first_store, reader.feature_dim
        if width != config.region_feature_dim:
            raise ValueError(
                f"{store} holds {width}-d region features but the model's region_feature_dim is "
                f"{config.region_feature_dim}: set model.init_args.config.region_feature_dim to {width}, or let the "
                f"config read it from the store: ${{vlp.feature_dim:{store}}}"
            )
