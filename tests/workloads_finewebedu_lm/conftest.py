"""Tiny FineWeb-Edu data in the real on-disk formats, made by the real setup script.

A small English corpus is written as FineWeb-Edu-style parquet files (a
``text`` column among the real ones), a byte-level BPE tokenizer with
GPT-2's ``<|endoftext|>`` is trained on it with the ``tokenizers`` library
and saved as ``tokenizer.json``; ``scripts/setup_finewebedu_lm.py`` then
tokenises, splits and validates them exactly as it does the real sample.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = ["the cell", "a river", "the planet", "an atom", "the student", "a forest",
            "the engine", "a library", "the ocean", "a number"]
VERBS = ["contains", "moves through", "explains", "changes", "measures", "protects"]
OBJECTS = ["energy", "small particles", "many ideas", "the water cycle", "old books",
           "living things", "simple rules"]
VOCAB_SIZE = 300
# A small model over this data: 16-token windows, one layer, float32 compute.
TINY = {"vocab_size": VOCAB_SIZE, "seq_len": 16, "model_dim": 16, "num_heads": 2,
        "num_layers": 1, "mlp_dim": 32, "multiple_of": 16, "compute_dtype": "float32",
        "max_eval_examples": 8}


def documents(n: int = 80) -> list[str]:
    """Deterministic short 'educational' documents; every 13th is empty (as in real dumps)."""
    docs = []
    for i in range(n):
        if i % 13 == 5:
            docs.append("")
            continue
        sentences = [f"{SUBJECTS[(i + k) % 10].capitalize()} {VERBS[(i * 3 + k) % 6]} "
                     f"{OBJECTS[(i + 2 * k) % 7]}." for k in range(2 + i % 4)]
        docs.append(" ".join(sentences))
    return docs


def write_parquet(folder: Path, docs: list[str], files: int = 2) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(docs) // files)
    paths = []
    for f in range(files):
        part = docs[f * per:(f + 1) * per]
        table = pa.table({"text": part, "id": [f"doc-{f}-{i}" for i in range(len(part))],
                          "score": [3.0] * len(part)})
        path = folder / f"{f:03d}_00000.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths


def train_tokenizer(path: Path, docs: list[str], vocab_size: int = VOCAB_SIZE) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([d for d in docs if d], trainer)
    tok.save(str(path))
    return path


def load_setup_script():
    spec = importlib.util.spec_from_file_location(
        "setup_finewebedu_lm", REPO / "scripts" / "setup_finewebedu_lm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lm_raw(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("fineweb_raw")
    docs = documents()
    files = write_parquet(root / "sample" / "10BT", docs)
    tokenizer = train_tokenizer(root / "tokenizer.json", docs)
    return SimpleNamespace(source=root / "sample" / "10BT", files=files, docs=docs,
                           tokenizer=tokenizer)


@pytest.fixture(scope="session")
def lm_data_dir(lm_raw: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finewebedu_lm")
    setup = load_setup_script()
    setup.prepare(lm_raw.source, lm_raw.tokenizer, out, seed=0, val_fraction=0.1,
                  vocab_size=VOCAB_SIZE)
    setup.validate(out)
    return out


@pytest.fixture(scope="session")
def lm_facts() -> SimpleNamespace:
    """The constants above, for test modules (importlib mode cannot import conftest)."""
    return SimpleNamespace(tiny=dict(TINY), vocab_size=VOCAB_SIZE, documents=documents,
                           write_parquet=write_parquet, train_tokenizer=train_tokenizer,
                           load_setup_script=load_setup_script)
