"""How well a word-piece vocabulary covers a task's texts: the share of `[UNK]` pieces and of words split into many
pieces. A vocabulary trained on other texts (the demo's lacked "k" and "z", so "black" became `[UNK]`) otherwise
fails silently: training runs, on words it cannot see."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from vlp.data.tokenizer import WordPieceTokenizer

logger = logging.getLogger(__name__)

MAX_PIECES = 3
"""A word split into more pieces than this is counted as poorly covered ("z ##z ##q ##x")."""
SAMPLE_TEXTS = 50_000
"""Texts read for the report at most (the first ones): enough for the shares, fast at any dataset size."""
UNKNOWN_LIMIT = 0.001
"""The share of `[UNK]` pieces past which `warn_if_poor` warns."""
SPLIT_LIMIT = 0.05
"""The share of words split into more than `MAX_PIECES` pieces past which `warn_if_poor` warns."""


@dataclass(frozen=True)
class VocabularyCoverage:
    """Counts over a sample of texts.

    Attributes:
        texts: texts read.
        words: words, as BERT's pre-tokenizer splits them (punctuation apart).
        pieces: word pieces.
        unknown_pieces: pieces that are `[UNK]`.
        split_words: words split into more than `MAX_PIECES` pieces.
        unknown_examples: the most frequent words that became `[UNK]`.
        split_examples: the most frequent words split into many pieces.
    """

    texts: int
    words: int
    pieces: int
    unknown_pieces: int
    split_words: int
    unknown_examples: tuple[str, ...]
    split_examples: tuple[str, ...]

    @property
    def unknown_share(self) -> float:
        return self.unknown_pieces / max(1, self.pieces)

    @property
    def split_share(self) -> float:
        return self.split_words / max(1, self.words)

    def describe(self) -> str:
        """One line with both shares and examples of each."""
        line = (
            f"{self.unknown_share:.2%} of {self.pieces} pieces are [UNK], {self.split_share:.2%} of {self.words} words "
            f"are split into more than {MAX_PIECES} pieces (over {self.texts} texts)"
        )
        if self.unknown_examples:
            line += f"; [UNK]: {', '.join(self.unknown_examples)}"
        if self.split_examples:
            line += f"; split: {', '.join(self.split_examples)}"
        return line


def vocabulary_coverage(
    tokenizer: WordPieceTokenizer, texts: Iterable[str], limit: int = SAMPLE_TEXTS, examples: int = 5
) -> VocabularyCoverage:
    """Tokenises up to `limit` texts and counts unknown pieces and words split into many pieces."""
    sample = list(itertools.islice(texts, limit))
    words = pieces = unknown = split = 0
    unknown_words: Counter[str] = Counter()
    split_words: Counter[str] = Counter()
    for encoding, text in zip(tokenizer.encode_texts(sample), sample, strict=True):
        per_word: dict[int, list[str]] = {}
        for token, word in zip(encoding.tokens, encoding.word_ids, strict=True):
            if word is not None:
                per_word.setdefault(word, []).append(token)
        for word, tokens in per_word.items():
            start, end = encoding.word_to_chars(word) or (0, 0)
            surface = text[start:end].lower()
            words += 1
            pieces += len(tokens)
            if "[UNK]" in tokens:
                unknown += tokens.count("[UNK]")
                unknown_words[surface] += 1
            if len(tokens) > MAX_PIECES:
                split += 1
                split_words[surface] += 1
    return VocabularyCoverage(
        texts=len(sample),
        words=words,
        pieces=pieces,
        unknown_pieces=unknown,
        split_words=split,
        unknown_examples=tuple(word for word, _ in unknown_words.most_common(examples)),
        split_examples=tuple(word for word, _ in split_words.most_common(examples)),
    )


def report_coverage(tokenizer: WordPieceTokenizer, texts: Iterable[str], what: str) -> VocabularyCoverage:
    """Logs the coverage of `tokenizer` over `texts` (a task's, named `what`), as a warning past `UNKNOWN_LIMIT` or
    `SPLIT_LIMIT` with the command that builds a better vocabulary."""
    coverage = vocabulary_coverage(tokenizer, texts)
    message = f"{tokenizer.vocab_path} over the {what}: {coverage.describe()}"
    if coverage.unknown_share > UNKNOWN_LIMIT or coverage.split_share > SPLIT_LIMIT:
        logger.warning(
            "%s. The model cannot read these words; build a vocabulary for these texts with `vlp vocab build "
            "--texts FILE... --output vocab.txt` (or `--extend %s` to keep the pretrained model's pieces)",
            message,
            tokenizer.vocab_path,
        )
    else:
        logger.info(message)
    return coverage
