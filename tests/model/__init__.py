"""Tests of vlp.model."""
