"""Decoding as free functions over a model's incremental state (as litgpt keeps `generate` apart from the model):
greedy search, beam search and sampling over a `DecodingState`, which feeds one new token per row through a key/value
cache."""

from vlp.generate.search import BeamSettings, DecodingState, Hypothesis, beam_search, greedy_search, sample

__all__ = ["BeamSettings", "DecodingState", "Hypothesis", "beam_search", "greedy_search", "sample"]
