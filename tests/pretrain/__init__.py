"""Tests of the pretraining module, its configs, and its distributed behaviour."""
