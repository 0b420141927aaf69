"""Tests of the pretraining data: tokenisation, corpora, corruption, batching."""
