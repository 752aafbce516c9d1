"""Tokenise, split and validate FineWeb-Edu for the finewebedu_lm workload.

    python scripts/setup_finewebedu_lm.py --source ~/raw/fineweb-edu/sample/10BT \\
        --tokenizer ~/raw/gpt2/tokenizer.json --output ~/data/finewebedu_lm
    python scripts/setup_finewebedu_lm.py --output ~/data/finewebedu_lm --check-only

Inputs are local files; nothing is fetched here. Get them once with the
Hugging Face CLI (see the README): the ``sample-10BT`` parquet files of
``HuggingFaceFW/fineweb-edu`` (a ``text`` column; ``.jsonl`` files with a
``text`` field work too) and GPT-2's ``tokenizer.json``, loaded with the
``tokenizers`` library from its path.

Steps, each resumable (outputs are written to a temporary name and renamed
when complete; finished ones are skipped on a re-run):

1. Tokenise every source file, in sorted file order, as the reference does:
   each non-empty document + ``<|endoftext|>``, without truncation. One
   ``work/<file>.tokens.bin`` (uint16) + ``.lengths.npy`` pair per file.
2. Split documents as the reference does: one seeded shuffle of all
   documents, the first 90% train, the rest validation; write the
   concatenated tokens of each split, in shuffled order, to ``train.npy``
   and ``val.npy``. The workload packs them into 1,025-token windows.
3. Write ``finewebedu_lm.json`` (counts, tokenizer hash, sources) last, then
   validate: dtypes, lengths, token ids below the vocabulary size, one EOS
   per non-empty document, and (``--full``) the reference's split sizes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import typer

from algoperf_ray.workloads.finewebedu_lm import input_pipeline as ip
from algoperf_ray.workloads.finewebedu_lm.metadata import SEQ_LEN, VOCAB_SIZE, WORKLOADS

EOS_TOKEN = "<|endoftext|>"
READ_BATCH = 1024  # documents per tokenizer call


class DatasetError(Exception):
    """Prepared data that does not validate; the message says how to fix it."""


# ---- step 1: tokenisation --------------------------------------------------------------
def source_files(source: Path) -> list[Path]:
    files = sorted(p for ext in ("*.parquet", "*.jsonl") for p in source.rglob(ext)) \
        if source.is_dir() else [source]
    if not files or not all(f.is_file() for f in files):
        raise DatasetError(f"no .parquet/.jsonl files under {source}; download the "
                           "FineWeb-Edu sample-10BT parquet files there first (see README).")
    return files


def read_texts(path: Path) -> Iterator[list[str]]:
    """Batches of document texts of one source file, in file order."""
    if path.suffix == ".jsonl":
        batch: list[str] = []
        with path.open() as f:
            for line in f:
                if line.strip():
                    batch.append(json.loads(line)["text"])
                if len(batch) == READ_BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch
        return
    import pyarrow.parquet as pq

    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH,
                                                          columns=["text"]):
        yield [t or "" for t in record_batch.column("text").to_pylist()]


def load_tokenizer(path: Path, vocab_size: int) -> tuple[object, int]:
    """(tokenizer, EOS id) from a ``tokenizer.json``, checked against the model's vocabulary."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise DatasetError(f"tokenizer file {path} not found; download GPT-2's tokenizer.json "
                           "(see README).")
    tok = Tokenizer.from_file(str(path))
    eos = tok.token_to_id(EOS_TOKEN)
    size = tok.get_vocab_size(with_added_tokens=True)
    if eos is None:
        raise DatasetError(f"{path} has no {EOS_TOKEN!r} token; use GPT-2's tokenizer.json.")
    if size != vocab_size or size > np.iinfo(np.uint16).max + 1:
        raise DatasetError(f"{path} has {size} tokens, expected --vocab-size {vocab_size} "
                           "(GPT-2: 50257); pass the matching tokenizer.")
    return tok, int(eos)


def tokenize_file(src: Path, work: Path, tok: object) -> None:
    """Write ``work/<name>.tokens.bin`` and ``.lengths.npy`` for one source file."""
    tokens_path, lengths_path = _shard_paths(src, work)
    if tokens_path.exists() and lengths_path.exists():
        return  # finished in an earlier run
    partial = tokens_path.with_suffix(".bin.partial")
    lengths: list[int] = []
    with partial.open("wb") as out:
        for texts in read_texts(src):
            with_eos = [t + EOS_TOKEN if t else t for t in texts]
            for enc in tok.encode_batch(with_eos, add_special_tokens=False):
                ids = np.asarray(enc.ids, dtype=np.uint16)
                out.write(ids.tobytes())
                lengths.append(ids.size)
    np.save(lengths_path.with_suffix(".partial.npy"), np.asarray(lengths, np.int64))
    os.replace(lengths_path.with_suffix(".partial.npy"), lengths_path)
    os.replace(partial, tokens_path)


def _shard_paths(src: Path, work: Path) -> tuple[Path, Path]:
    stem = hashlib.sha1(str(src.resolve()).encode()).hexdigest()[:10] + "_" + src.stem
    return work / f"{stem}.tokens.bin", work / f"{stem}.lengths.npy"


# ---- step 2: split ---------------------------------------------------------------------
def split_documents(num_docs: int, seed: int, val_fraction: float
                    ) -> dict[str, np.ndarray]:
    """Document indices of each split: one seeded shuffle, then a 90/10 cut."""
    order = np.random.default_rng(seed).permutation(num_docs)
    cut = int((1.0 - val_fraction) * num_docs)
    return {"train": order[:cut], "val": order[cut:]}


def write_split(path: Path, docs: np.ndarray, shards: list[tuple[np.ndarray, np.ndarray]]
                ) -> int:
    """Concatenate the tokens of ``docs`` (global indices, in order) into ``path``."""
    lengths = np.concatenate([lens for _, lens in shards])
    starts_in_shard = np.concatenate([np.cumsum(lens) - lens for _, lens in shards])
    shard_of = np.repeat(np.arange(len(shards)), [lens.size for _, lens in shards])
    total = int(lengths[docs].sum())
    partial = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint16, shape=(total,))
    pos = 0
    for d in docs:
        n = int(lengths[d])
        start = int(starts_in_shard[d])
        out[pos:pos + n] = shards[shard_of[d]][0][start:start + n]
        pos += n
    out.flush()
    del out
    os.replace(partial, path)
    return total


# ---- step 3: validation ------------------------------------------------------------------
def validate(output: Path, full: bool = False) -> dict:
    """Check the prepared folder; return its manifest or raise :class:`DatasetError`."""
    try:
        manifest = ip.load_manifest(str(output))
    except (FileNotFoundError, ValueError) as e:
        raise DatasetError(str(e)) from e
    problems = []
    for split, info in manifest["splits"].items():
        problems += _split_problems(output / f"{split}.npy", info, manifest)
    if full:
        meta = WORKLOADS[0]
        need = {"train": meta.num_train_examples, "val": meta.num_validation_examples}
        for split, count in need.items():
            have = manifest["splits"][split]["num_sequences"]
            if have < count:
                problems.append(f"{split}: {have} sequences of {SEQ_LEN} tokens, the reference "
                                f"has {count} (use the whole sample-10BT)")
    if problems:
        raise DatasetError(f"{output} does not validate:\n  - " + "\n  - ".join(problems)
                           + "\nDelete the folder and run the setup again.")
    return manifest


def _split_problems(path: Path, info: dict, manifest: dict) -> list[str]:
    if not path.is_file():
        return [f"{path.name} missing"]
    tokens = np.load(path, mmap_mode="r")
    if tokens.dtype != np.uint16 or tokens.ndim != 1 or tokens.size != info["num_tokens"]:
        return [f"{path.name}: {tokens.dtype} {tokens.shape}, expected uint16 "
                f"({info['num_tokens']},)"]
    problems, eos = [], 0
    for start in range(0, tokens.size, 1 << 24):
        chunk = np.asarray(tokens[start:start + (1 << 24)])
        if chunk.size and int(chunk.max()) >= manifest["vocab_size"]:
            problems.append(f"{path.name}: token id {int(chunk.max())} >= vocabulary size")
            break
        eos += int(np.count_nonzero(chunk == manifest["eos_id"]))
    if eos < info["num_nonempty_documents"]:
        problems.append(f"{path.name}: {eos} EOS tokens for {info['num_nonempty_documents']} "
                        "non-empty documents")
    return problems


# ---- the command -------------------------------------------------------------------------
def prepare(source: Path, tokenizer: Path, output: Path, seed: int, val_fraction: float,
            vocab_size: int) -> dict:
    tok, eos = load_tokenizer(tokenizer, vocab_size)
    files = source_files(source)
    work = output / "work"
    work.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(files):
        print(f"[1/3] tokenising {src.name} ({i + 1}/{len(files)})", flush=True)
        tokenize_file(src, work, tok)
    shards = []
    for src in files:
        tokens_path, lengths_path = _shard_paths(src, work)
        shards.append((np.memmap(tokens_path, dtype=np.uint16, mode="r")
                       if tokens_path.stat().st_size else np.zeros(0, np.uint16),
                       np.load(lengths_path)))
    lengths = np.concatenate([lens for _, lens in shards])
    splits = split_documents(lengths.size, seed, val_fraction)
    info = {}
    for name, docs in splits.items():
        print(f"[2/3] writing {name}.npy ({docs.size} documents)", flush=True)
        total = write_split(output / f"{name}.npy", docs, shards)
        info[name] = {"num_tokens": total, "num_documents": int(docs.size),
                      "num_nonempty_documents": int(np.count_nonzero(lengths[docs])),
                      "num_sequences": total // (SEQ_LEN + 1)}
    manifest = {"format": ip.FORMAT, "vocab_size": vocab_size, "eos_id": eos,
                "tokenizer_sha256": hashlib.sha256(tokenizer.read_bytes()).hexdigest(),
                "seed": seed, "val_fraction": val_fraction,
                "sources": [f.name for f in files], "splits": info}
    tmp = output / (ip.MANIFEST + ".partial")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, output / ip.MANIFEST)
    return manifest


def main(
    output: Path = typer.Option(..., help="folder to write (pass it as --data-dir to run)"),
    source: Path = typer.Option(None, help="FineWeb-Edu parquet/jsonl file or folder"),
    tokenizer: Path = typer.Option(None, help="GPT-2 tokenizer.json (tokenizers format)"),
    seed: int = typer.Option(0, help="seed of the document shuffle before the split"),
    val_fraction: float = typer.Option(0.1, help="fraction of documents for validation"),
    vocab_size: int = typer.Option(VOCAB_SIZE, help="expected tokenizer vocabulary size"),
    check_only: bool = typer.Option(False, help="only validate an existing folder"),
    full: bool = typer.Option(False, help="also require the reference's split sizes"),
) -> None:
    try:
        if not check_only:
            if (output / ip.MANIFEST).exists():
                print(f"{output / ip.MANIFEST} exists: prepared earlier; validating.")
            elif source is None or tokenizer is None:
                raise DatasetError("--source and --tokenizer are required to prepare data.")
            else:
                prepare(source, tokenizer, output, seed, val_fraction, vocab_size)
        manifest = validate(output, full)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    counts = ", ".join(f"{k}: {v['num_sequences']} sequences / {v['num_tokens']} tokens"
                       for k, v in manifest["splits"].items())
    print(f"[3/3] {output} is valid ({counts}).")


if __name__ == "__main__":
    typer.run(main)
