"""Retrieval: split files, pairs built on the device equal to Oscar's contiguous sequences, training negatives, and
each evaluation mode against scoring every pair one at a time."""

from __future__ import annotations

import json

import pytest
import torch

from finetune.retrieval import RetrievalCollate, RetrievalGallery, RetrievalModule, RetrievalSource
from finetune.retrieval.evaluate import PairScorer, matching_scores, rank_fold, shortlisted_pairs, shortlists
from finetune.retrieval.gallery import GalleryEvaluation
from finetune.retrieval.module import WorldBatch
from finetune.retrieval.pairs import pair_inputs
from tests.data.conftest import FEATURE_DIM, bert_vocab, demo_data
from tests.model.factories import randomize_, tiny
from vlp.data import WordPieceTokenizer
from vlp.data.karpathy import fold_of, read_split_file
from vlp.data.padding import pad_regions
from vlp.eval.json_files import FormatError
from vlp.metrics.retrieval import RetrievalRecall, rank_candidates
from vlp.model import VLModel
from vlp.model.inputs import TextInputs

__all__ = ["demo_data"]


def test_split_files_give_store_ids_captions_and_folds(demo_data, tmp_path):
    images = read_split_file(demo_data.world.karpathy, ["test"])
    raw = json.loads(demo_data.world.karpathy.read_text())["images"]
    expected = [entry for entry in raw if entry["split"] == "test"]
    assert [image.image_id for image in images] == [str(entry["cocoid"]) for entry in expected]
    assert [list(image.sentids) for image in images] == [entry["sentids"] for entry in expected]
    # Flickr30K's file has no COCO ids: the image is named by its file's stem.
    flickr = [entry | {"filename": f"{1000 + number}.jpg"} for number, entry in enumerate(raw)]
    for entry in flickr:
        del entry["cocoid"]
    path = tmp_path / "dataset_flickr30k.json"
    path.write_text(json.dumps({"images": flickr, "dataset": "flickr30k"}))
    assert read_split_file(path, ["train"])[0].image_id == "1000"
    assert [fold_of(position, 10, 5) for position in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError, match="equal size"):
        fold_of(0, 7, 5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda images: images[1]["sentences"][0].update(sentid=images[0]["sentids"][0]), "repeats sentid"),
        (lambda images: images[2]["sentences"][0].pop("raw"), r"images\[2\].sentences\[0\] has no 'raw'"),
        (lambda images: images[3].update(cocoid=images[0]["cocoid"]), "repeats image"),
        (lambda images: images[4].pop("split"), r"images\[4\] has no 'split'"),
    ],
)
def test_malformed_split_files_are_named(demo_data, tmp_path, change, message):
    content = json.loads(demo_data.world.karpathy.read_text())
    change(content["images"])
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(content))
    with pytest.raises(FormatError, match=message):
        read_split_file(path)


def test_unknown_or_empty_splits_are_refused(demo_data, tmp_path):
    with pytest.raises(ValueError, match="unknown Karpathy split tset"):
        read_split_file(demo_data.world.karpathy, ["tset"])
    with pytest.raises(FormatError, match="no images in splits restval"):
        read_split_file(demo_data.world.karpathy, ["restval"])


def oscar_sequence(tokenizer: WordPieceTokenizer, caption: list[str], tags: list[str], max_tokens: int) -> list[int]:
    """Oscar's retrieval text: the caption first (cut to leave room for the tags' [SEP]), then as many tag pieces as
    fit."""
    pieces = tokenizer.pieces(caption)[0][: max_tokens - 3]
    tokens = [tokenizer.cls_id, *pieces, tokenizer.sep_id]
    tag_pieces = tokenizer.pieces(tags)[0][: max_tokens - len(tokens) - 1]
    return tokens + tag_pieces + [tokenizer.sep_id]


@pytest.mark.parametrize("max_tokens", [12, 20, 64])
def test_pairs_built_on_the_device_equal_oscars_contiguous_sequences(demo_data, max_tokens):
    tokenizer = WordPieceTokenizer(bert_vocab())
    gallery = RetrievalGallery([RetrievalSource(str(demo_data.world.karpathy), str(demo_data.store), ["train"])], 6)
    collate = RetrievalCollate(tokenizer, max_tokens)
    items = [gallery[index] for index in range(5)]
    words = [caption.words for caption in gallery.captions[:7]]
    captions, images = collate.captions(words), collate.images(items)
    caption_rows, image_rows = torch.tensor([0, 1, 2, 3, 4, 5, 6, 6]), torch.tensor([0, 1, 2, 3, 4, 0, 1, 4])
    model = randomize_(VLModel(tiny(vocab_size=tokenizer.vocab_size, region_feature_dim=FEATURE_DIM)))
    model.eval()
    text, positions, regions = pair_inputs(
        captions.rows(caption_rows), images.rows(image_rows), max_tokens, tokenizer.sep_id
    )
    pooled = model(text, regions, position_ids=positions).pooled_output
    for pair, (c, i) in enumerate(zip(caption_rows.tolist(), image_rows.tolist(), strict=True)):
        expected = oscar_sequence(tokenizer, words[c], items[i].tag_words, max_tokens)
        real = text.text_mask[pair]
        assert text.input_ids[pair][real].tolist() == expected
        assert len(expected) <= max_tokens
        ids = torch.tensor([expected])
        types = torch.tensor(
            [
                [0] * (expected.index(tokenizer.sep_id) + 1)
                + [1] * (len(expected) - expected.index(tokenizer.sep_id) - 1)
            ]
        )
        assert text.token_type_ids[pair][real].tolist() == types[0].tolist()
        one = pad_regions([items[i]])
        one.labels = None
        alone = model(TextInputs(ids, types), one).pooled_output
        torch.testing.assert_close(pooled[pair], alone[0], rtol=1e-5, atol=1e-5)


def module_and_world(negatives: str, keys: list[int]) -> tuple[RetrievalModule, WorldBatch]:
    module = RetrievalModule(tiny(), negatives=negatives, embed_dim=8)
    module._generator = torch.Generator().manual_seed(0)
    count = len(keys)
    embeddings = torch.nn.functional.normalize(
        torch.randn(count, 8, generator=torch.Generator().manual_seed(1)), dim=-1
    )
    world = WorldBatch(None, None, torch.tensor(keys), embeddings, embeddings, 0)  # type: ignore[arg-type]
    return module, world


@pytest.mark.parametrize("negatives", ["random", "hard"])
def test_negatives_never_pair_a_caption_with_its_own_image(negatives):
    keys = [0, 0, 1, 2, 3, 3, 4, 5]
    module, world = module_and_world(negatives, keys)
    for _ in range(20):
        captions, images, labels = module.training_pairs(world, len(keys))
        own = torch.tensor(keys)
        assert labels.tolist() == [1] * 8 + [0] * (len(labels) - 8)
        assert (own[captions[:8]] == own[images[:8]]).all() and (own[captions[8:]] != own[images[8:]]).all()
        # Oscar: one negative per caption, its caption or its image swapped; ALBEF: one of each.
        assert len(labels) == 8 + (8 if negatives == "random" else 16)
        anchored = torch.cat([captions[8:], images[8:]])
        assert set(range(8)) <= set(anchored.tolist())


def test_hard_negatives_follow_the_embedding_similarity():
    keys = [0, 1, 2, 3]
    module, world = module_and_world("hard", keys)
    # Text 0 is far closer to image 2 than to 1 and 3: its hard image is (almost) always 2.
    world.texts = torch.eye(4)
    world.images_embedded = torch.eye(4)
    world.texts[0] = world.images_embedded[2]
    module.logit_scale.value.data.fill_(torch.log(torch.tensor(100.0)))
    drawn = []
    for _ in range(50):
        _, images, _ = module.training_pairs(world, 4)
        drawn.append(int(images[4]))  # text 0's negative image comes first among the negatives
    assert drawn.count(2) >= 48


class Gallery:
    """A demo-world gallery with a random model: everything the evaluation modes need."""

    def __init__(self, demo_data, folds: int = 1) -> None:
        self.tokenizer = WordPieceTokenizer(bert_vocab())
        source = RetrievalSource(str(demo_data.world.karpathy), str(demo_data.store), ["train"], folds, 10)
        self.gallery = RetrievalGallery([source], 6)
        self.collate = RetrievalCollate(self.tokenizer, 24)
        config = tiny(vocab_size=self.tokenizer.vocab_size, region_feature_dim=FEATURE_DIM, initializer_range=0.5)
        self.module = RetrievalModule(config, embed_dim=8)
        randomize_(self.module, seed=3)
        self.module.eval()
        self.scorer = PairScorer(self.module.model, self.module.heads["itm"], 24, self.tokenizer.sep_id, True, 7)

    def evaluation(self, mode: str, shortlist: int = 10) -> GalleryEvaluation:
        return GalleryEvaluation(
            self.gallery,
            self.collate,
            self.module.model,
            self.module.heads,
            self.scorer,
            mode,
            shortlist,
            lambda tensor: tensor,
            0,
            1,
            4,
            torch.device("cpu"),
        )

    def run(self, mode: str, shortlist: int = 10):
        evaluation = self.evaluation(mode, shortlist)
        with torch.no_grad():
            for start in range(0, len(self.gallery), 3):
                evaluation.step(
                    self.collate([self.gallery[i] for i in range(start, min(start + 3, len(self.gallery)))])
                )
            return evaluation.finish(RetrievalRecall())

    @torch.no_grad()
    def one_pair(self, image: int, caption: int) -> float:
        """The cross-encoder's score of one pair, from its contiguous sequence."""
        item = self.gallery[image]
        ids = oscar_sequence(self.tokenizer, self.gallery.captions[caption].words, item.tag_words, 24)
        sep = ids.index(self.tokenizer.sep_id)
        types = torch.tensor([[0] * (sep + 1) + [1] * (len(ids) - sep - 1)])
        regions = pad_regions([item])
        regions.labels = None
        logits = self.module.heads["itm"](
            self.module.model(TextInputs(torch.tensor([ids]), types), regions).pooled_output
        )
        return float(matching_scores(logits)[0])

    def caption_image(self) -> torch.Tensor:
        return torch.tensor([caption.image for caption in self.gallery.captions])


def naive_recall(scores: torch.Tensor, caption_image: torch.Tensor) -> dict[str, float]:
    recall = RetrievalRecall()
    images, texts = torch.arange(scores.shape[0]), torch.arange(scores.shape[1])
    recall.update("image_to_text", caption_image[rank_candidates(scores, 10)] == images[:, None], images)
    recall.update("text_to_image", rank_candidates(scores.t(), 10) == caption_image[:, None], texts)
    return recall.compute()


@pytest.mark.slow
def test_exact_mode_scores_every_pair_as_one_at_a_time(demo_data):
    setup = Gallery(demo_data)
    rankings = setup.run("exact")
    scores = torch.tensor(
        [[setup.one_pair(i, c) for c in range(len(setup.gallery.captions))] for i in range(len(setup.gallery))]
    )
    assert rankings.image_to_text[0] == rank_candidates(scores, 10)[0].tolist()
    assert rankings.text_to_image == {c: row for c, row in enumerate(rank_candidates(scores.t(), 10).tolist())}
    assert rankings.recall == pytest.approx(naive_recall(scores, setup.caption_image()))


@pytest.mark.slow
def test_fast_mode_with_a_shortlist_of_everything_is_exact_and_embedding_mode_ranks_by_cosine(demo_data):
    setup = Gallery(demo_data)
    exact = setup.run("exact")
    fast = setup.run("fast", shortlist=len(setup.gallery.captions))
    assert fast.image_to_text == exact.image_to_text and fast.text_to_image == exact.text_to_image
    embedding = setup.run("embedding")
    with torch.no_grad():
        images = setup.module.model.encode_image(
            setup.collate([setup.gallery[i] for i in range(len(setup.gallery))]).images.regions,
            setup.module.heads["image_projection"],
        )
        texts = setup.module.model.encode_text(
            setup.collate.captions([c.words for c in setup.gallery.captions]).text(),
            setup.module.heads["text_projection"],
        )
    similarity = images @ texts.t()
    assert embedding.recall == pytest.approx(naive_recall(similarity, setup.caption_image()))
    assert embedding.image_to_text[3] == rank_candidates(similarity, 10)[3].tolist()


def test_fast_mode_reranks_only_the_shortlists():
    similarity = torch.tensor([[0.9, 0.8, 0.1, 0.0], [0.2, 0.1, 0.7, 0.6], [0.0, 0.0, 0.0, 0.05]])
    scores = torch.tensor([[1.0, 5.0, 9.0, 9.0], [3.0, 2.0, 1.0, 4.0], [7.0, 8.0, 8.0, 0.0]])
    image_to_text, text_to_image = shortlists(similarity, 2)
    assert image_to_text.tolist() == [[0, 1], [2, 3], [3, 0]]
    assert text_to_image.tolist() == [[0, 1], [0, 1], [1, 0], [1, 2]]
    pairs = shortlisted_pairs(image_to_text, text_to_image)
    assert pairs.tolist() == [[True, True, True, False], [True, True, True, True], [True, False, False, True]]
    by_image, by_text = rank_fold("fast", similarity, scores, 2)
    # Each query's scored pairs (its own shortlist and those the other direction's shortlists add, such as image 0 with
    # caption 2) ranked by the cross-encoder, then the rest in the embeddings' order, never by their unscored scores.
    assert by_image.tolist() == [[2, 1, 0, 3], [3, 0, 1, 2], [0, 3, 1, 2]]
    assert by_text.tolist() == [[2, 1, 0], [0, 1, 2], [0, 1, 2], [1, 2, 0]]


@pytest.mark.slow
def test_folds_rank_each_image_only_against_its_fold(demo_data):
    setup = Gallery(demo_data, folds=2)
    rankings = setup.run("exact")
    fold = torch.tensor(setup.gallery.image_folds)
    caption_image = setup.caption_image()
    for image, ranked in rankings.image_to_text.items():
        assert (fold[caption_image[torch.tensor(ranked)]] == fold[image]).all()
    for caption, ranked in rankings.text_to_image.items():
        assert (fold[torch.tensor(ranked)] == fold[caption_image[caption]]).all()
