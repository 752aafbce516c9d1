"""Reading and writing the results store (Parquet datasets, any pyarrow filesystem).

Layout under the store root (``<part>`` = ``version=<v>/ruleset=<r>/submission=<s>``)::

    _manifest.json                      the live files and the store's schema version
    evals/<part>/g<N>/<framework>__<workload>__study<k>__trial<n>.parquet
    trials/<part>/g<N>/<same name>.parquet
    evals/<part>/g<N>/segment-ingest.parquet, trials/...      (bulk ingest)
    summaries/<part>/<same name>.arrow  one row per trial, derived (Arrow IPC cache)
    _lock, _staging/                    the writers' lock and journals

Every change is one transaction (:mod:`algoperf_ray.store.txn`): new files
are staged in a fresh ``g<N>/`` folder and published together by renaming
the manifest, so readers and killed writers never see half a change. The
``g<N>`` folder level has no ``=`` sign: pandas, polars and duckdb ignore it
when they read the hive partitions. Outside a write the folders hold exactly
the live files; during a write use this class (it reads the manifest).

Summaries are a cache: a writer deletes a trial's summary before it
publishes and writes the new one after, so a summary is fresh when it exists
and is not older than its eval file; the scorer recomputes the others.
Invariant (``schema.eval_rows_to_table``, ingest, segment rewrites): inside an
eval file each trial's rows are contiguous and in eval order.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from algoperf_ray.benchmark.identity import KEY_FIELD_NAMES, TrialKey
from algoperf_ray.store import schema as S
from algoperf_ray.store import txn
from algoperf_ray.store.errors import StoreError, StoreWarning
from algoperf_ray.store.writer import StoreWriter, summary_of
from algoperf_ray.store.writer import _summary_rel as summary_rel

if TYPE_CHECKING:  # pyarrow.dataset imports pandas (~1 s): only the dataset reads load it
    import pyarrow.dataset as ds

SEGMENT_PREFIX = "segment-"
INGEST_SEGMENT = "segment-ingest.parquet"
_READ_RETRIES = 5


@dataclass(frozen=True)
class EvalFile:
    """One live eval file of a (version, ruleset) and its summary file, if that is fresh."""

    submission: str
    path: str
    summary: str | None  # None: missing or older than the eval file (recompute)


def _open_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and root path for a local path or a URI."""
    if uri.startswith("memory://"):
        return pafs._MockFileSystem(), uri.removeprefix("memory://").strip("/") or "store"
    if "://" in uri:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return filesystem, path.rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))


class Store(StoreWriter):
    """The results store at ``uri`` (a local path or a pyarrow-filesystem URI)."""

    def __init__(self, uri: str):
        self.uri = str(uri)
        self.fs, self.root = _open_filesystem(self.uri)
        if isinstance(self.fs, pafs.LocalFileSystem) and os.path.isfile(self.root):
            raise StoreError(f"store path {self.uri!r} is a file, not a folder: give a folder "
                             f"path (it is created on first write), e.g. --store ./results")

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    # -------------------------------------------------------------- snapshots
    def snapshot(self) -> txn.Manifest:
        """The live files now: the manifest, or (older stores) a listing of the tables."""
        where = f"{self.root}/{txn.MANIFEST}"
        raw = txn.read_bytes(self.fs, where)
        if raw is None:
            return self._legacy_manifest()
        manifest = txn.parse_manifest(raw, where)
        if manifest.schema_version > S.SCHEMA_VERSION:
            raise StoreError(
                f"store {self.uri!r} has schema version {manifest.schema_version} ({where}), "
                f"newer than this algoperf-ray reads ({S.SCHEMA_VERSION}): upgrade "
                f"algoperf-ray (pip install -U algoperf-ray) to read it")
        return manifest

    def _legacy_manifest(self) -> txn.Manifest:
        """A store written before manifests (schema 1): files sit in the partition folders.

        Files one level deeper (``g<N>/``) belong to a first transaction that
        has not published yet, so they are not live.
        """
        files = {}
        for table in txn.DATA_TABLES:
            base = f"{self.root}/{table}"
            selector = pafs.FileSelector(base, allow_not_found=True, recursive=True)
            for info in self.fs.get_file_info(selector):
                rel = info.path[len(self.root) + 1:]
                if (info.type == pafs.FileType.File and info.base_name.endswith(".parquet")
                        and not info.base_name.startswith(".")
                        and rel.split("/")[-2].startswith("submission=")):
                    files[rel] = 0
        return txn.Manifest(0, 1 if files else 0, files)

    def _paths(self, manifest: txn.Manifest, table: str, prefix: str = "") -> list[str]:
        return [f"{self.root}/{manifest.physical(p)}" for p in manifest.live(table, prefix)]

    # ------------------------------------------------------------------- reads
    def _retrying(self, read):
        """Run ``read(manifest)``; a file removed by a concurrent writer means: re-read."""
        for attempt in range(_READ_RETRIES):
            manifest = self.snapshot()
            try:
                return read(manifest)
            except FileNotFoundError as e:
                if attempt + 1 == _READ_RETRIES or self.snapshot().generation == \
                        manifest.generation:
                    raise StoreError(
                        f"store {self.uri!r}: a live file is missing ({e}); it was deleted "
                        f"outside algoperf-ray. Re-ingest the logs or re-run the trials of "
                        f"its submission") from None
        raise AssertionError("unreachable")

    def _dataset(self, manifest: txn.Manifest, table: str, schema: pa.Schema | None,
                 dictionary: bool = False) -> ds.Dataset | None:
        """The dataset of ``table``'s live files; ``dictionary`` reads names dictionary-encoded."""
        import pyarrow.dataset as ds

        files = self._paths(manifest, table)
        if not files:
            return None
        part = ds.partitioning(S.PARTITIONING_SCHEMA, flavor="hive")
        if schema is None:
            schema = pa.unify_schemas([self._physical_schema(f) for f in files])
        fields = [*S.PARTITIONING_SCHEMA, *[f for f in schema if f.name not in S.PARTITION_COLUMNS]]
        fmt = ds.ParquetFileFormat()
        if dictionary:
            names = ("framework", "workload")
            fields = [pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
                      if f.name in names else f for f in fields]
            fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(
                dictionary_columns=[n for n in names if n in schema.names]))
        return ds.dataset(files, filesystem=self.fs, format=fmt, partitioning=part,
                          partition_base_dir=f"{self.root}/{table}", schema=pa.schema(fields))

    def _physical_schema(self, path: str) -> pa.Schema:
        try:
            return pq.read_schema(path, filesystem=self.fs)
        except pa.ArrowInvalid as e:
            raise self._damaged(path, e) from None

    def _damaged(self, path: str, error: Exception) -> StoreError:
        rel = path[len(self.root) + 1:]
        sub = next((s.removeprefix("submission=") for s in rel.split("/")
                    if s.startswith("submission=")), "?")
        return StoreError(
            f"{path}: damaged store file ({error}). Re-ingest the logs of submission {sub!r} "
            f"(algoperf-ray ingest ... --store {self.uri}) or re-run its trials; a "
            f"re-write replaces the file")

    def _to_table(self, dataset: ds.Dataset, **kwargs) -> pa.Table:
        """``dataset.to_table``; a damaged file becomes an error that names it."""
        try:
            return dataset.to_table(**kwargs)
        except (pa.ArrowInvalid, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            for path in dataset.files:
                try:
                    pq.read_metadata(path, filesystem=self.fs)
                except (pa.ArrowInvalid, OSError) as bad:
                    raise self._damaged(path, bad) from None
            raise

    def read_evals(self, columns: Sequence[str] | None = None,
                   filters: Mapping[str, Any] | pc.Expression | None = None,
                   dictionary: bool = False) -> pa.Table:
        """Eval rows as an Arrow table; ``columns`` picks columns, ``filters`` rows.

        ``filters`` is a pyarrow expression or ``{column: value or [values]}``.
        Metric columns a file lacks read as null. An empty store gives an empty
        table. ``dictionary=True`` returns name columns dictionary-encoded.
        """
        cols = None if columns is None else list(dict.fromkeys(columns))
        schema = None if cols is None else S.read_schema(cols)

        def read(manifest: txn.Manifest) -> pa.Table:
            dataset = self._dataset(manifest, "evals", schema, dictionary)
            if dataset is None:
                default = [*S.KEY_COLUMNS, "eval_index", *S.TIMING_COLUMNS]
                empty = S.read_schema(cols or default)
                return pa.schema([*S.PARTITIONING_SCHEMA, *empty]).empty_table().select(
                    cols or default)
            return self._to_table(dataset, columns=cols, filter=_expression(filters))

        return self._retrying(read)

    def eval_files(self, version: str, ruleset: str,
                   submissions: Sequence[str] | None = None) -> list[EvalFile]:
        """Every live eval file of (version, ruleset), paired with its summary where fresh.

        One ``stat`` per file (sizes and mtimes, also on S3; no file is
        opened). The manifest is read again at the end: if a writer published
        in between, the pairing is redone, so it always belongs to one state.
        """
        if self.fs.get_file_info(self.root).type == pafs.FileType.NotFound:
            raise StoreError(f"store path {self.uri!r} does not exist: check --store, or "
                             f"ingest logs / run trials into it first")
        for _ in range(_READ_RETRIES):
            manifest = self.snapshot()
            out, missing = self._pair_summaries(manifest, version, ruleset, submissions)
            if self.snapshot().generation == manifest.generation:
                break
        if missing:
            warnings.warn(StoreWarning(
                f"store {self.uri!r}: {len(missing)} live eval file(s) are missing (deleted "
                f"outside algoperf-ray?) and were left out, e.g. {missing[0]}; re-ingest or "
                f"re-run them"), stacklevel=2)
        return out

    def _pair_summaries(self, manifest: txn.Manifest, version: str, ruleset: str,
                        submissions: Sequence[str] | None) -> tuple[list[EvalFile], list[str]]:
        prefix = f"version={version}/ruleset={ruleset}/"
        logical = [p for p in manifest.live("evals", prefix) if submissions is None
                   or p.split("/")[3].removeprefix("submission=") in submissions]
        paths = [f"{self.root}/{manifest.physical(p)}" for p in logical]
        infos = self.fs.get_file_info(paths) if paths else []
        sums = self.fs.get_file_info([f"{self.root}/{summary_rel(p)}" for p in logical]) \
            if paths else []
        out, missing = [], []
        for rel, path, info, summ in zip(logical, paths, infos, sums, strict=True):
            if info.type != pafs.FileType.File:
                missing.append(path)
                continue
            fresh = summ.type == pafs.FileType.File and summ.mtime_ns >= info.mtime_ns
            out.append(EvalFile(rel.split("/")[3].removeprefix("submission="), path,
                                summ.path if fresh else None))
        return out, missing

    def read_summaries(self, version: str, ruleset: str,
                       submissions: Sequence[str] | None = None,
                       files: Sequence[EvalFile] | None = None) -> pa.Table:
        """Fresh per-trial summaries of one (version, ruleset), with a ``submission`` column.

        Trials whose summary is stale are left out (see :meth:`eval_files`).
        """
        if files is None:
            files = self.eval_files(version, ruleset, submissions)
        parts = [(f.submission, self._read_file(f.summary)) for f in files if f.summary]
        if not parts:
            return pa.schema([("submission", pa.string()), *S.SUMMARY_SCHEMA]).empty_table()
        return with_submission(parts)

    def read_summary(self, file: EvalFile) -> pa.Table:
        """The stored per-trial summary of one eval file (``file.summary`` must be set).

        The scorer's public way to read the cache; a damaged cache is rebuilt
        from the eval rows with a :class:`StoreWarning`.
        """
        if file.summary is None:
            raise StoreError(f"{file.path}: no fresh summary; recompute it from the eval rows")
        return self._read_file(file.summary)

    def _read_file(self, path: str) -> pa.Table:
        """One store file; a damaged summary cache is rebuilt from its eval rows (warning)."""
        if path.endswith(".arrow"):
            try:
                with self.fs.open_input_file(path) as f:
                    return pa.ipc.open_file(f).read_all()
            except (pa.ArrowInvalid, OSError) as e:
                if isinstance(e, FileNotFoundError):
                    raise
                return self._rebuild_summary(path, e)
        try:
            return pq.read_table(path, filesystem=self.fs)
        except (pa.ArrowInvalid, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise self._damaged(path, e) from None

    def read_eval_file(self, path: str, columns: Sequence[str]) -> pa.Table:
        """The ``columns`` of one eval file that it has (names dictionary-encoded)."""
        try:
            with self.fs.open_input_file(path) as f:
                pf = pq.ParquetFile(f, read_dictionary=["framework", "workload"])
                _check_file_version(pf.schema_arrow, path)
                have = set(pf.schema_arrow.names)
                return pf.read(columns=[c for c in columns if c in have], use_threads=False)
        except (pa.ArrowInvalid, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise self._damaged(path, e) from None

    def read_trials(self, filters: Mapping[str, Any] | pc.Expression | None = None) -> pa.Table:
        """Trial rows (status, hyperparameters as JSON, error, seed) as an Arrow table."""
        def read(manifest: txn.Manifest) -> pa.Table:
            dataset = self._dataset(manifest, "trials", S.TRIALS_SCHEMA)
            if dataset is None:
                return pa.schema([*S.PARTITIONING_SCHEMA, *S.TRIALS_SCHEMA]).empty_table()
            return self._to_table(dataset, filter=_expression(filters))

        table = self._retrying(read)
        newest = pc.max(table.column("schema_version")).as_py() if table.num_rows else None
        if newest is not None and newest > S.SCHEMA_VERSION:
            raise StoreError(f"store {self.uri!r} holds trial rows of schema version {newest}, "
                             f"newer than this algoperf-ray reads ({S.SCHEMA_VERSION}): "
                             f"upgrade algoperf-ray to read them")
        return table

    def completed_trials(self) -> set[TrialKey]:
        """Keys of finished trials: ``completed`` or ``pruned`` (never re-run on resume).

        A pruned trial was stopped on purpose (it could no longer change its
        study's time-to-target), so resuming treats it as done, like the tune
        package does; this method is the one definition of "finished".
        """
        table = self.read_trials(filters={"status": ["completed", "pruned"]})
        return set(keys_of(table))

    def versions(self) -> list[tuple[str, str]]:
        """(version, ruleset) pairs present in the eval rows (from the manifest alone)."""
        pairs = set()
        for logical in self.snapshot().live("evals"):
            _, version, ruleset, *_ = logical.split("/")
            pairs.add((version.removeprefix("version="), ruleset.removeprefix("ruleset=")))
        return sorted(pairs)

    def _rebuild_summary(self, path: str, error: Exception) -> pa.Table:
        """Recompute a damaged summary cache from its eval file; rewrite it under the lock."""
        rel = path[len(self.root) + 1:]
        eval_logical = "evals/" + rel.removeprefix("summaries/").removesuffix(".arrow") + \
            ".parquet"
        warnings.warn(StoreWarning(f"{path}: damaged summary cache ({error}); rebuilt from "
                                   f"the eval rows"), stacklevel=3)
        with txn.store_lock(self.fs, self.root, self.uri):
            manifest = self.snapshot()
            if eval_logical not in manifest.files:
                raise StoreError(f"{path}: damaged summary cache of an eval file that is no "
                                 f"longer live; delete it")
            evals = self._read_file(f"{self.root}/{manifest.physical(eval_logical)}")
            version = eval_logical.split("/")[1].removeprefix("version=")
            summary = summary_of(evals, version)
            if summary is None:
                raise StoreError(f"{path}: damaged summary cache; delete it")
            self._atomic_write(summary, path)
        return summary


def _check_file_version(schema: pa.Schema, path: str) -> None:
    raw = (schema.metadata or {}).get(b"algoperf_ray.schema_version")
    if raw is not None and int(raw) > S.SCHEMA_VERSION:
        raise StoreError(f"{path}: written with store schema version {int(raw)}, newer than "
                         f"this algoperf-ray reads ({S.SCHEMA_VERSION}): upgrade algoperf-ray")


def with_submission(parts: Sequence[tuple[str, pa.Table]]) -> pa.Table:
    """Concatenate per-file tables, adding a dictionary ``submission`` column in front.

    Files may differ in their metric columns (workloads log different
    metrics): missing columns become null.
    """
    subs = list(dict.fromkeys(sub for sub, _ in parts))
    index = {sub: i for i, sub in enumerate(subs)}
    codes = np.concatenate([np.full(t.num_rows, index[sub], np.int32) for sub, t in parts])
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(subs, pa.string()))
    tables = [t for _, t in parts]
    if any(not t.schema.equals(tables[0].schema) for t in tables[1:]):
        names = list(dict.fromkeys(n for t in tables for n in t.column_names))
        types = {f.name: f.type for t in tables for f in t.schema}
        tables = [pa.table({n: t.column(n) if n in t.column_names else
                            pa.nulls(t.num_rows, types[n]) for n in names}) for t in tables]
    return pa.concat_tables(tables).add_column(0, "submission", dictionary)


def keys_of(table: pa.Table) -> Iterable[TrialKey]:
    cols = {name: table.column(name).to_pylist() for name in KEY_FIELD_NAMES}
    for values in zip(*cols.values(), strict=True):
        yield TrialKey(*values)


def _expression(filters: Mapping[str, Any] | pc.Expression | None) -> pc.Expression | None:
    if filters is None or isinstance(filters, pc.Expression):
        return filters
    import pyarrow.dataset as ds

    expr = None
    for name, value in filters.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            term = ds.field(name).isin(list(value))
        else:
            term = ds.field(name) == value
        expr = term if expr is None else expr & term
    return expr
