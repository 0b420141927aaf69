"""Detector backends of extract-features: each turns a batch of decoded images into per-image region detections."""
