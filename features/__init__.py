"""extract-features: region features for the region store, from images (detector backends) or public TSV dumps.

Layout: `cli` (the console script), `config` (YAML + overrides), `inputs` (which images), `decode` (bytes to RGB),
`pipeline` (decode, detect, write one shard), `extract` (shards and processes), `backends/` (detectors),
`importers/` (BUTD and VinVL TSV), `summary` and `draw` (look at a store), `demo` (the demo world's stage).
"""
