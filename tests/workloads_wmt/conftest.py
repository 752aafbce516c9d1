"""Tiny WMT data in the real on-disk formats: TFDS folders and a SentencePiece model.

``wmt17_translate/de-en:1.0.0`` (train) and ``wmt14_translate/de-en:1.0.0``
(validation, test) are written through TFDS's own writer under the real
names, versions and feature keys, so the workload reads them exactly as it
reads the prepared datasets; the SentencePiece model is trained with the
sentencepiece package on the sentences below, as scripts/setup_wmt.py does.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

PAIRS = [
    ("das haus ist klein", "the house is small"),
    ("der hund ist gross", "the dog is big"),
    ("ich habe eine katze", "i have a cat"),
    ("die katze schlaeft", "the cat sleeps"),
    ("wir gehen nach hause", "we go home"),
    ("es regnet heute", "it is raining today"),
    ("das wetter ist gut", "the weather is good"),
    ("er liest ein buch", "he reads a book"),
    ("sie trinkt kaffee", "she drinks coffee"),
    ("der zug kommt spaet", "the train is late"),
]
SPLITS = {"wmt17_translate": {"train": PAIRS * 2},
          "wmt14_translate": {"validation": PAIRS[:7], "test": PAIRS[3:8]}}
VOCAB_SIZE = 48
# A small model over this data: 24-token rows, one layer.
TINY = {"vocab_size": VOCAB_SIZE, "emb_dim": 16, "num_heads": 2, "num_layers": 1,
        "qkv_dim": 16, "mlp_dim": 16, "seq_len": 24}


def write_tfds(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict({"de": tfds.features.Text(),
                                           "en": tfds.features.Text()})
    for name, splits in SPLITS.items():
        tfds.dataset_builders.store_as_tfds_dataset(
            name=name, version="1.0.0", config="de-en", features=features,
            data_dir=str(data_dir), disable_shuffling=True,
            split_datasets={s: [(i, {"de": de, "en": en}) for i, (de, en) in enumerate(rows)]
                            for s, rows in splits.items()})


def train_sentencepiece(path: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    import sentencepiece as spm

    corpus = path.parent / "corpus.txt"
    corpus.write_text("\n".join(s for pair in PAIRS for s in pair) + "\n")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(path.parent / "sp"),
                                   vocab_size=vocab_size, model_type="unigram",
                                   character_coverage=1.0, minloglevel=2)
    (path.parent / "sp.model").rename(path)
    return path


@pytest.fixture(scope="session")
def wmt_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("wmt_tfds")
    write_tfds(data_dir)
    train_sentencepiece(data_dir / "wmt_sentencepiece_model")
    return data_dir


@pytest.fixture(scope="session")
def wmt_facts() -> SimpleNamespace:
    """The constants above, for test modules (importlib mode cannot import conftest)."""
    return SimpleNamespace(pairs=PAIRS, splits=SPLITS, tiny=dict(TINY), vocab_size=VOCAB_SIZE,
                           train_sentencepiece=train_sentencepiece)
