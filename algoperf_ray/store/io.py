"""Reading and writing the results store (Parquet datasets, any pyarrow filesystem).

Layout under the store root::

    evals/version=<v>/ruleset=<r>/submission=<s>/<framework>__<workload>__study<k>__trial<n>.parquet
    trials/version=<v>/ruleset=<r>/submission=<s>/<same name>.parquet
    summaries/<same partitions>/<same name>.arrow    (one row per trial, derived; Arrow IPC)
    evals/.../segment-ingest.parquet, trials/..., summaries/...            (bulk ingest)

One file per trial and table means concurrent writers (runner ranks 0 of
different trials, Ray Tune trials) never touch the same file. Every file is
written to a hidden temporary name in its final directory and then renamed,
so readers never see half a file and a rewrite replaces a trial's rows.
Bulk ingest writes one segment per submission instead: reading thousands of
tiny files would cost the scorer far more than its whole computation.

With every eval write the store also writes the trial's summary (its
time-to-target under the version's target, first-hit index, eval count), so
the scorer reads one row per trial instead of every eval. Each eval file
``X.parquet`` has its summary ``X.arrow`` at the same relative path. A write
first deletes ``X.arrow``, then renames the new ``X.parquet`` into place, then
writes the new ``X.arrow``: a writer that dies in between leaves a *missing*
summary, never a wrong one. :meth:`Store.eval_files` pairs the two tables
from one recursive listing each and calls a summary stale when it is missing
or older than its eval file (an older writer, a file edited by hand); the
scorer recomputes just those files' trials from their eval rows. A summary
also records its target; the scorer recomputes the files whose targets differ.

Invariant every writer keeps (``schema.eval_rows_to_table``, ingest, segment
rewrites): inside an eval file each trial's rows are contiguous and in eval
order, ``eval_index`` = 0, 1, ...; the scorer's fast path relies on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from algoperf_ray.benchmark.identity import KEY_FIELD_NAMES, InvalidTrialKeyError, TrialKey
from algoperf_ray.store import schema as S

SEGMENT_PREFIX = "segment-"
INGEST_SEGMENT = "segment-ingest.parquet"


def _validate(key: TrialKey) -> None:
    """A key that cannot name files is a schema error of the rows being written."""
    try:
        key.validate()
    except InvalidTrialKeyError as e:
        raise S.SchemaError(str(e)) from None


class StoreError(ValueError):
    """The store cannot serve a request; the message names the store and the fix."""




@dataclass(frozen=True)
class EvalFile:
    """One eval file of a (version, ruleset) and its summary file, if that is fresh."""

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
    import os

    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))


def _partition_dir(root: str, table: str, version: str, ruleset: str, submission: str) -> str:
    return f"{root}/{table}/version={version}/ruleset={ruleset}/submission={submission}"


class Store:
    """The results store at ``uri`` (a local path or a pyarrow-filesystem URI)."""

    def __init__(self, uri: str):
        self.uri = str(uri)
        self.fs, self.root = _open_filesystem(self.uri)

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    # ------------------------------------------------------------------ writes
    def _atomic_write(self, table: pa.Table, path: str) -> None:
        directory, _, name = path.rpartition("/")
        self.fs.create_dir(directory, recursive=True)
        tmp = f"{directory}/.{name}.tmp-{uuid.uuid4().hex}"
        try:
            if path.endswith(".arrow"):
                with self.fs.open_output_stream(tmp) as out, pa.ipc.new_file(
                        out, table.schema) as writer:
                    writer.write_table(table)
            else:
                # Dictionary-encode only the name columns: on float metrics it
                # costs 3x the write time and makes files larger. LZ4 rather
                # than zstd: files ~14% larger, but reading them (the scorer's
                # recompute path) takes half the CPU and writing 25% less.
                names = [c for c in ("framework", "workload", "status") if c in table.column_names]
                pq.write_table(table, tmp, filesystem=self.fs, compression="lz4",
                               use_dictionary=names)
            self.fs.move(tmp, path)
        except BaseException:
            _delete_quietly(self.fs, tmp)
            raise

    def _write_eval_file(self, version: str, path: str, table: pa.Table) -> None:
        """Write eval file ``path`` and its summary, never leaving a wrong summary.

        Order: delete the summary, rename the eval file into place, write the
        summary. A crash at any point leaves the summary missing (the scorer
        then recomputes from the eval rows), or both files consistent.
        """
        summary_path = _summary_path(self.root, path)
        _delete_quietly(self.fs, summary_path)
        self._atomic_write(table, path)
        summary = _summary(table, version)
        if summary is not None:
            self._atomic_write(summary, summary_path)

    def write_evals(self, key: TrialKey, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace all eval rows of trial ``key`` with ``rows`` (in eval order)."""
        _validate(key)
        table = S.eval_rows_to_table(key.file_fields(), rows)
        directory = _partition_dir(self.root, "evals", *key.partition())
        for path, rest in self._drop_from_segments(directory, key):
            self._write_eval_file(key.version, path, rest)
        self._write_eval_file(key.version, f"{directory}/{key.file_name()}", table)

    def write_trial(self, key: TrialKey, *, hparams: Mapping | None, status: str,
                    error: str | None = None, seed: int | None = None,
                    extra: Mapping | None = None) -> None:
        """Replace the trial row of ``key`` (status, hyperparameters, error, seed)."""
        _validate(key)
        table = S.trial_row_to_table(key.file_fields(), hparams=hparams, status=status,
                                     error=error, seed=seed, extra=extra)
        directory = _partition_dir(self.root, "trials", *key.partition())
        for path, rest in self._drop_from_segments(directory, key):
            self._atomic_write(rest, path)
        self._atomic_write(table, f"{directory}/{key.file_name()}")

    def _drop_from_segments(self, directory: str, key: TrialKey) -> list[tuple[str, pa.Table]]:
        """Bulk segments in ``directory`` holding ``key``, with its rows removed.

        The caller rewrites them so a trial's rows are never duplicated.
        """
        out = []
        for path in self._files(directory, prefix=SEGMENT_PREFIX):
            seg = self._read_file(path)
            mask = _key_mask(seg, key.file_fields())
            if pc.any(mask).as_py():
                out.append((path, seg.filter(pc.invert(mask))))
        return out

    def write_submission_segment(self, version: str, ruleset: str, submission: str,
                                 evals: pa.Table, trials: pa.Table) -> None:
        """Replace a whole submission partition with one eval and one trial segment.

        Used by ingest: the logs directory is the source of truth for that
        submission, so per-trial files left from earlier writes are removed.
        """
        for name, kind in ((version, "version"), (ruleset, "ruleset"), (submission, "submission")):
            S.check_name(kind, name)
        part = (version, ruleset, submission)
        self._write_eval_file(version, f"{_partition_dir(self.root, 'evals', *part)}/"
                                       f"{INGEST_SEGMENT}", evals)
        self._atomic_write(trials, f"{_partition_dir(self.root, 'trials', *part)}/{INGEST_SEGMENT}")
        for table_name in ("evals", "trials", "summaries"):
            directory = _partition_dir(self.root, table_name, version, ruleset, submission)
            segment = _file_name(table_name, INGEST_SEGMENT)
            for path in self._files(directory):
                if not path.endswith("/" + segment):
                    self.fs.delete_file(path)

    def _files(self, directory: str, prefix: str = "", recursive: bool = False) -> list[str]:
        selector = pafs.FileSelector(directory, allow_not_found=True, recursive=recursive)
        return sorted(info.path for info in self.fs.get_file_info(selector)
                      if info.type == pafs.FileType.File
                      and info.base_name.endswith((".parquet", ".arrow"))
                      and info.base_name.startswith(prefix) and not info.base_name.startswith("."))

    def _read_file(self, path: str) -> pa.Table:
        if path.endswith(".arrow"):
            with self.fs.open_input_file(path) as f:
                return pa.ipc.open_file(f).read_all()
        return pq.read_table(path, filesystem=self.fs)

    # ------------------------------------------------------------------- reads
    def _dataset(self, table: str, schema: pa.Schema | None,
                 dictionary: bool = False) -> ds.Dataset | None:
        """The dataset of ``table``; ``dictionary`` reads names dictionary-encoded (fast)."""
        base = f"{self.root}/{table}"
        if self.fs.get_file_info(base).type != pafs.FileType.Directory:
            return None
        part = ds.partitioning(S.PARTITIONING_SCHEMA, flavor="hive")
        if schema is None:
            found = ds.dataset(base, filesystem=self.fs, format="parquet", partitioning=part)
            if not found.files:
                return None
            schema = pa.unify_schemas([f.physical_schema for f in found.get_fragments()])
        fields = [*S.PARTITIONING_SCHEMA, *[f for f in schema if f.name not in S.PARTITION_COLUMNS]]
        fmt = ds.ParquetFileFormat()
        if dictionary:
            names = ("framework", "workload")
            fields = [pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
                      if f.name in names else f for f in fields]
            fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(
                dictionary_columns=[n for n in names if n in schema.names]))
        dataset = ds.dataset(base, filesystem=self.fs, format=fmt, partitioning=part,
                             schema=pa.schema(fields))
        return dataset if dataset.files else None

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
        dataset = self._dataset("evals", schema, dictionary)
        if dataset is None:
            empty = S.read_schema(cols or [*S.KEY_COLUMNS, "eval_index", *S.TIMING_COLUMNS])
            return pa.schema([*S.PARTITIONING_SCHEMA, *empty]).empty_table().select(
                cols or [*S.KEY_COLUMNS, "eval_index", *S.TIMING_COLUMNS])
        return dataset.to_table(columns=cols, filter=_expression(filters))

    def eval_files(self, version: str, ruleset: str,
                   submissions: Sequence[str] | None = None) -> list[EvalFile]:
        """Every eval file of (version, ruleset), paired with its summary where fresh.

        One recursive listing per table (sizes and mtimes come with it, also
        on S3; no file is opened). A summary is fresh when it exists and is
        not older than its eval file; summaries without an eval file are
        ignored.
        """
        base = f"{self.root}/evals/version={version}/ruleset={ruleset}"
        evals = self._listing(base)
        summaries = self._listing(f"{self.root}/summaries/version={version}/ruleset={ruleset}")
        out = []
        for rel, info in sorted(evals.items()):
            sub = rel.partition("/")[0].removeprefix("submission=")
            if submissions is not None and sub not in submissions:
                continue
            summary = summaries.get(_file_name("summaries", rel))
            fresh = summary is not None and summary.mtime_ns >= info.mtime_ns
            out.append(EvalFile(sub, info.path, summary.path if fresh else None))
        return out

    def _listing(self, base: str) -> dict[str, pafs.FileInfo]:
        """Visible data files under ``base`` (recursive), by path relative to ``base``."""
        selector = pafs.FileSelector(base, allow_not_found=True, recursive=True)
        return {info.path[len(base) + 1:]: info for info in self.fs.get_file_info(selector)
                if info.type == pafs.FileType.File and not info.base_name.startswith(".")
                and info.base_name.endswith((".parquet", ".arrow"))}

    def read_summaries(self, version: str, ruleset: str,
                       submissions: Sequence[str] | None = None,
                       files: Sequence[EvalFile] | None = None) -> pa.Table:
        """Fresh per-trial summaries of one (version, ruleset), with a ``submission`` column.

        Summaries are a derived cache (rebuilt by any eval write); Arrow IPC
        files open in microseconds, which keeps scoring in milliseconds.
        Trials whose summary is stale are left out (see :meth:`eval_files`).
        """
        if files is None:
            files = self.eval_files(version, ruleset, submissions)
        parts = [(f.submission, self._read_file(f.summary)) for f in files if f.summary]
        if not parts:
            return pa.schema([("submission", pa.string()), *S.SUMMARY_SCHEMA]).empty_table()
        return with_submission(parts)

    def read_eval_file(self, path: str, columns: Sequence[str]) -> pa.Table:
        """The ``columns`` of one eval file that it has (names dictionary-encoded)."""
        with self.fs.open_input_file(path) as f:
            pf = pq.ParquetFile(f, read_dictionary=["framework", "workload"])
            have = set(pf.schema_arrow.names)
            return pf.read(columns=[c for c in columns if c in have], use_threads=False)

    def read_trials(self, filters: Mapping[str, Any] | pc.Expression | None = None) -> pa.Table:
        """Trial rows (status, hyperparameters as JSON, error, seed) as an Arrow table."""
        dataset = self._dataset("trials", S.TRIALS_SCHEMA)
        if dataset is None:
            return pa.schema([*S.PARTITIONING_SCHEMA, *S.TRIALS_SCHEMA]).empty_table()
        return dataset.to_table(filter=_expression(filters))

    def completed_trials(self) -> set[TrialKey]:
        """Keys of trials whose status is ``completed`` (for resuming a tuning run)."""
        table = self.read_trials(filters={"status": "completed"})
        return set(keys_of(table))

    def versions(self) -> list[tuple[str, str]]:
        """(version, ruleset) pairs present in the eval rows."""
        t = self.read_evals(columns=["version", "ruleset"])
        if t.num_rows == 0:
            return []
        pairs = t.group_by(["version", "ruleset"]).aggregate([]).to_pylist()
        return sorted((p["version"], p["ruleset"]) for p in pairs)


def with_submission(parts: Sequence[tuple[str, pa.Table]]) -> pa.Table:
    """Concatenate per-file tables, adding a dictionary ``submission`` column in front."""
    subs = list(dict.fromkeys(sub for sub, _ in parts))
    index = {sub: i for i, sub in enumerate(subs)}
    codes = np.concatenate([np.full(t.num_rows, index[sub], np.int32) for sub, t in parts])
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(subs, pa.string()))
    return pa.concat_tables([t for _, t in parts]).add_column(0, "submission", dictionary)


def _summary_path(root: str, eval_path: str) -> str:
    """The summary file of an eval file: same relative path under ``summaries/``."""
    rel = eval_path[len(root) + len("/evals/"):]
    return f"{root}/summaries/{_file_name('summaries', rel)}"


def _file_name(table: str, name: str) -> str:
    """Summaries are Arrow IPC files; eval and trial rows are Parquet."""
    return name.removesuffix(".parquet") + ".arrow" if table == "summaries" else name


def _summary(evals: pa.Table, version: str) -> pa.Table | None:
    """The per-trial summary of ``evals`` (None for a version this package lacks)."""
    from algoperf_ray.benchmark.versions import UnknownVersionError, get_version
    from algoperf_ray.scoring.scoring import summarize

    try:
        v = get_version(version)
    except UnknownVersionError:
        return None
    return summarize(evals, v).cast(S.SUMMARY_SCHEMA)


def keys_of(table: pa.Table) -> Iterable[TrialKey]:
    cols = {name: table.column(name).to_pylist() for name in KEY_FIELD_NAMES}
    for values in zip(*cols.values(), strict=True):
        yield TrialKey(*values)


def _key_mask(table: pa.Table, key_fields: Mapping[str, Any]) -> pa.ChunkedArray:
    mask = None
    for name, value in key_fields.items():
        m = pc.equal(table.column(name), value)
        mask = m if mask is None else pc.and_(mask, m)
    return mask


def _expression(filters: Mapping[str, Any] | pc.Expression | None) -> pc.Expression | None:
    if filters is None or isinstance(filters, pc.Expression):
        return filters
    expr = None
    for name, value in filters.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            term = ds.field(name).isin(list(value))
        else:
            term = ds.field(name) == value
        expr = term if expr is None else expr & term
    return expr


def _delete_quietly(filesystem: pafs.FileSystem, path: str) -> None:
    try:
        filesystem.delete_file(path)
    except (FileNotFoundError, OSError):
        pass
