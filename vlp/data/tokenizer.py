"""Word-piece tokenisation of captions, questions, answers and tags, with Oscar's `[CLS] a [SEP] b [SEP]` layout.

The vocabulary is a BERT `vocab.txt` (uncased), read by the `tokenizers` library: a BERT checkpoint's own file for real
pretraining, or a small one trained offline on a corpus's texts by `train_vocabulary` (the demo's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import BertWordPieceTokenizer, Encoding

VOCAB_NAME = "vocab.txt"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def vocab_file(path: str | Path) -> Path:
    """The `vocab.txt` of a tokenizer folder (a model folder), or `path` itself when it names the file."""
    path = Path(path)
    return path / VOCAB_NAME if path.is_dir() else path


@dataclass(frozen=True)
class EncodedPair:
    """One `[CLS] a [SEP] b [SEP]` sequence.

    Attributes:
        input_ids: [T] word-piece ids.
        token_type_ids: [T] 0 for `[CLS] a [SEP]`, 1 for `b [SEP]` (Oscar's segments: words 0, tags 1).
        word_ids: [T] for each position of `a`, the index of the word of `a` it comes from; None elsewhere (special
            tokens and `b`). Maps word spans (scene-graph nodes) onto token positions
            (`vlp.scene_graph.graph.token_spans`).
    """

    input_ids: list[int]
    token_type_ids: list[int]
    word_ids: list[int | None]


class WordPieceTokenizer:
    """An uncased BERT word-piece tokenizer that encodes pre-split words into Oscar's pair layout.

    Args:
        vocab: a `vocab.txt` file or a folder holding one.

    Raises:
        FileNotFoundError: the vocabulary does not exist.
        ValueError: it lacks one of BERT's special tokens.
    """

    def __init__(self, vocab: str | Path) -> None:
        self.vocab_path = vocab_file(vocab)
        if not self.vocab_path.is_file():
            raise FileNotFoundError(f"no word-piece vocabulary at {self.vocab_path}")
        self._tokenizer = BertWordPieceTokenizer(str(self.vocab_path), lowercase=True)
        ids = {token: self._tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
        missing = [token for token, index in ids.items() if index is None]
        if missing:
            raise ValueError(f"{self.vocab_path} lacks the special tokens {', '.join(missing)}")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (ids[t] for t in SPECIAL_TOKENS)
        self.special_ids = tuple(ids.values())
        self.vocab_size = self._tokenizer.get_vocab_size()

    def __getstate__(self) -> dict[str, object]:
        # The Rust tokenizer pickles, but rebuilding it from the file keeps worker start-up cheap and portable.
        state = self.__dict__.copy()
        del state["_tokenizer"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._tokenizer = BertWordPieceTokenizer(str(self.vocab_path), lowercase=True)

    def pieces(self, words: Sequence[str]) -> tuple[list[int], list[int | None]]:
        """Word-piece ids of pre-split words and, for each piece, the index of its word."""
        if not words:
            return [], []
        encoding = self._tokenizer.encode(list(words), is_pretokenized=True, add_special_tokens=False)
        return encoding.ids, list(encoding.word_ids)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of word-piece ids, pieces joined into words, special tokens left out."""
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)

    def tokens(self, ids: Sequence[int]) -> list[str]:
        """The word piece of each id, special tokens included (`##` marks a piece that continues a word)."""
        return [self._tokenizer.id_to_token(index) for index in ids]

    def encode_texts(self, texts: Sequence[str]) -> list[Encoding]:
        """The pieces of whole texts, split into words by BERT's pre-tokenizer (each `Encoding` has `tokens` and the
        `word_ids` of each), without special tokens."""
        return self._tokenizer.encode_batch(list(texts), add_special_tokens=False)

    def encode_pair(self, words_a: Sequence[str], words_b: Sequence[str] | None, max_tokens: int) -> EncodedPair:
        """Encodes `[CLS] a [SEP] b [SEP]` (or `[CLS] a [SEP]` without `b`) in at most `max_tokens` tokens.

        Like Oscar and BERT, a pair too long is cut one piece at a time from the end of whichever part is longer,
        which keeps a short part (a few tags, an answer) whole.

        Args:
            words_a: the words of the caption or question.
            words_b: the words of the tags or the answer; None for text alone.
            max_tokens: the text budget, special tokens included (Oscar: 35).
        """
        ids_a, word_a = self.pieces(words_a)
        ids_b = self.pieces(words_b)[0] if words_b is not None else []
        budget = max_tokens - (3 if words_b is not None else 2)
        if budget < 0:
            raise ValueError(f"max_tokens {max_tokens} leaves no room for the special tokens")
        while len(ids_a) + len(ids_b) > budget:
            if len(ids_a) > len(ids_b):
                ids_a, word_a = ids_a[:-1], word_a[:-1]
            else:
                ids_b = ids_b[:-1]
        input_ids = [self.cls_id, *ids_a, self.sep_id]
        word_ids: list[int | None] = [None, *word_a, None]
        token_type_ids = [0] * len(input_ids)
        if words_b is not None:
            input_ids += [*ids_b, self.sep_id]
            word_ids += [None] * (len(ids_b) + 1)
            token_type_ids += [1] * (len(ids_b) + 1)
        return EncodedPair(input_ids, token_type_ids, word_ids)


def train_vocabulary(texts: Iterable[str], output: str | Path, vocab_size: int = 512) -> Path:
    """Trains an uncased word-piece vocabulary on `texts`, offline, and writes it as a BERT `vocab.txt`.

    A corpus-sized vocabulary keeps small models small: the demo world's few dozen words need a few hundred pieces
    where BERT's has 30,522, and the masked-token head's output layer shrinks accordingly.

    Args:
        texts: captions, questions, answers and tags to learn the pieces from.
        output: the `vocab.txt` to write, or a folder to write it into (created).
        vocab_size: the most pieces to keep (special tokens and the alphabet included); the result may be smaller.

    Returns:
        The path of the written `vocab.txt`.
    """
    output = Path(output)
    folder = output if output.suffix != ".txt" else output.parent
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertWordPieceTokenizer(lowercase=True)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=1, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    written = Path(tokenizer.save_model(str(folder))[0])
    if output.suffix == ".txt" and written != output:
        written.replace(output)
        written = output
    return written
