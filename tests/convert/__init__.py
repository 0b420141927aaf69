"""Tests of vlp.convert."""
