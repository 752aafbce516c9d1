"""The store's writes: every change is one transaction (see :mod:`algoperf_ray.store.txn`).

Mixed into :class:`algoperf_ray.store.io.Store`. A transaction is a *plan*
(a function of the current manifest that returns the files to put and the
files to delete) run under the store's lock, then staged, published with one
manifest rename, and cleaned up. Planning under the lock is what makes
concurrent writers safe: a trial write that must drop the trial's rows from
an ingest segment reads the segment that is live at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from algoperf_ray.benchmark.identity import InvalidTrialKeyError
from algoperf_ray.store import schema as S
from algoperf_ray.store import txn
from algoperf_ray.store.errors import StoreError

if TYPE_CHECKING:
    from algoperf_ray.benchmark.identity import TrialKey

Plan = Callable[[txn.Manifest], tuple[dict[str, pa.Table], set[str]]]
_OPTIMISTIC_RETRIES = 5


class _Conflict(Exception):
    """Another writer published first (object stores, no lock): plan again."""


class StoreWriter:
    """Transactional writes (the ``Store`` provides ``fs``, ``root``, ``uri``, ``snapshot``)."""

    fs: Any
    root: str
    uri: str

    # ------------------------------------------------------------ primitives
    def _atomic_write(self, table: pa.Table, path: str) -> None:
        """Write one file (temp name, then rename: a reader never sees half a file)."""
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
                # costs 3x the write time. LZ4 rather than zstd: files ~14%
                # larger, but reading them takes half the CPU.
                names = [c for c in ("framework", "workload", "status") if c in table.column_names]
                pq.write_table(table, tmp, filesystem=self.fs, compression="lz4",
                               use_dictionary=names)
            self.fs.move(tmp, path)
        except BaseException:
            txn.delete_quietly(self.fs, tmp)
            raise

    def _transact(self, plan: Plan, workers: int = 1) -> None:
        """Run ``plan`` under the lock and commit its files as one transaction."""
        for _ in range(_OPTIMISTIC_RETRIES):
            with txn.store_lock(self.fs, self.root, self.uri) as locked:
                current = self.snapshot()
                txn.recover(self.fs, self.root, current)
                puts, deletes = plan(current)
                if not puts and not deletes:
                    return
                try:
                    self._commit(current, puts, deletes, locked, workers)
                    return
                except _Conflict:
                    continue
        raise StoreError(f"store {self.uri!r}: other writers kept publishing while this one "
                         f"staged its files; retry, or write from one process at a time")

    def _commit(self, current: txn.Manifest, puts: Mapping[str, pa.Table], deletes: set[str],
                locked: bool, workers: int) -> None:
        gen = current.generation + 1
        touched = set(puts) | deletes
        replaced = sorted(current.physical(p) for p in touched if p in current.files)
        new_dirs = sorted({txn.physical_path(p, gen).rpartition("/")[0] for p in puts})
        summaries = sorted({_summary_rel(p) for p in touched if p.startswith("evals/")})
        journal = f"{self.root}/{txn.STAGING}/g{gen}.json"
        self.fs.create_dir(f"{self.root}/{txn.STAGING}", recursive=True)
        txn.write_json(self.fs, journal, txn.journal_text(
            gen, new_dirs, replaced, sorted({s.rpartition("/")[0] for s in summaries})))
        txn.crash_point("journal")
        try:
            fresh = self._stage(puts, gen, workers)
            if not locked and self.snapshot().generation != current.generation:
                raise _Conflict
            for rel in summaries:  # delete first: a missing summary is recomputed
                txn.delete_quietly(self.fs, f"{self.root}/{rel}")
                txn.crash_point("drop summary")
        except BaseException:
            for d in new_dirs:
                txn.delete_dir_quietly(self.fs, f"{self.root}/{d}")
            txn.delete_quietly(self.fs, journal)
            raise
        manifest = txn.merged(current, gen, S.SCHEMA_VERSION, puts, deletes)
        txn.write_json(self.fs, f"{self.root}/{txn.MANIFEST}", manifest.to_json())
        txn.crash_point("publish")
        self._parallel(lambda item: self._atomic_write(item[1], f"{self.root}/{item[0]}"),
                       sorted(fresh.items()), workers, "summary")
        live = {manifest.physical(p) for p in touched if p in manifest.files}
        for rel in replaced:
            if rel not in live:
                txn.delete_quietly(self.fs, f"{self.root}/{rel}")
                txn.remove_empty_dir(self.fs, f"{self.root}/{rel.rpartition('/')[0]}")
                txn.crash_point("remove replaced")
        txn.delete_quietly(self.fs, journal)

    def _stage(self, puts: Mapping[str, pa.Table], gen: int, workers: int
               ) -> dict[str, pa.Table]:
        """Write the new files into their ``g<gen>`` folders; returns the summaries to write."""
        def one(item: tuple[str, pa.Table]) -> tuple[str, pa.Table | None]:
            logical, table = item
            self._atomic_write(table, f"{self.root}/{txn.physical_path(logical, gen)}")
            if not logical.startswith("evals/"):
                return logical, None
            return _summary_rel(logical), summary_of(table, logical.split("/")[1].removeprefix("version="))

        done = self._parallel(one, sorted(puts.items()), workers, "stage")
        return {rel: table for rel, table in done if table is not None}

    @staticmethod
    def _parallel(fn: Callable, items: Sequence, workers: int, label: str) -> list:
        """``fn`` over ``items`` (threads when ``workers`` > 1; pyarrow releases the GIL)."""
        out = []
        if workers <= 1 or len(items) <= 1:
            for item in items:
                out.append(fn(item))
                txn.crash_point(label)
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(fn, items):
                out.append(result)
                txn.crash_point(label)
        return out

    # ---------------------------------------------------------- trial writes
    def write_evals(self, key: TrialKey, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace all eval rows of trial ``key`` with ``rows`` (in eval order)."""
        self.publish_trial(key, rows)

    def write_trial(self, key: TrialKey, *, hparams: Mapping | None, status: str,
                    error: str | None = None, seed: int | None = None,
                    extra: Mapping | None = None) -> None:
        """Replace the trial row of ``key`` (status, hyperparameters, error, seed)."""
        self.publish_trial(key, None, trial={"hparams": hparams, "status": status,
                                             "error": error, "seed": seed, "extra": extra})

    def publish_trial(self, key: TrialKey, rows: Sequence[Mapping[str, Any]] | None,
                      trial: Mapping[str, Any] | None = None) -> None:
        """Replace a trial's eval rows and/or its trial row in one transaction.

        ``trial`` holds ``write_trial``'s keyword arguments. With both, a
        reader (or a kill) sees the old rows and old status or the new ones
        together, e.g. never the final evals of a trial still marked running.
        """
        _validate(key)
        tables = {}
        if rows is not None:
            tables["evals"] = S.eval_rows_to_table(key.file_fields(), rows)
        if trial is not None:
            t = {"error": None, "seed": None, "extra": None, **trial}
            tables["trials"] = S.trial_row_to_table(
                key.file_fields(), hparams=t["hparams"], status=t["status"], error=t["error"],
                seed=t["seed"], extra=t["extra"])

        def plan(current: txn.Manifest) -> tuple[dict[str, pa.Table], set[str]]:
            puts = {}
            for name, table in tables.items():
                part = _partition(name, *key.partition())
                puts.update(self._drop_from_segments(current, part, key))
                puts[f"{part}/{key.file_name()}"] = table
            return puts, set()

        self._transact(plan)

    def _drop_from_segments(self, current: txn.Manifest, part: str, key: TrialKey
                            ) -> dict[str, pa.Table]:
        """Live segments of partition ``part`` holding ``key``, with its rows removed."""
        out = {}
        for logical in current.live(part.split("/")[0], part.partition("/")[2] + "/"):
            if not logical.rpartition("/")[2].startswith("segment-"):
                continue
            seg = self._read_file(f"{self.root}/{current.physical(logical)}")
            mask = key_mask(seg, key.file_fields())
            if pc.any(mask).as_py():
                out[logical] = seg.filter(pc.invert(mask))
        return out

    # ------------------------------------------------------------ bulk writes
    def write_submission_segment(self, version: str, ruleset: str, submission: str,
                                 evals: pa.Table, trials: pa.Table) -> None:
        """Replace a whole submission partition with one eval and one trial segment."""
        self.write_submissions({(version, ruleset, submission): (evals, trials)})

    def write_submissions(self, segments: Mapping[tuple[str, str, str], tuple[pa.Table, pa.Table]],
                          workers: int = 1) -> None:
        """Replace whole submission partitions, all in one transaction (used by ingest).

        The logs are the source of truth for an ingested submission, so every
        other file of its partitions (per-trial files of earlier runs) goes.
        """
        for part in segments:
            for name, kind in zip(part, ("version", "ruleset", "submission"), strict=True):
                S.check_name(kind, name)

        def plan(current: txn.Manifest) -> tuple[dict[str, pa.Table], set[str]]:
            puts, deletes = {}, set()
            for part, (evals, trials) in segments.items():
                for name, table in (("evals", evals), ("trials", trials)):
                    prefix = _partition(name, *part)
                    deletes.update(current.live(name, prefix.partition("/")[2] + "/"))
                    puts[f"{prefix}/segment-ingest.parquet"] = table
            return puts, deletes - set(puts)

        self._transact(plan, workers)


def _partition(table: str, version: str, ruleset: str, submission: str) -> str:
    return f"{table}/version={version}/ruleset={ruleset}/submission={submission}"


def _summary_rel(eval_logical: str) -> str:
    """The summary cache of an eval file: same partition and name under ``summaries/``."""
    return "summaries/" + eval_logical.removeprefix("evals/").removesuffix(".parquet") + ".arrow"


def _validate(key: TrialKey) -> None:
    """A key that cannot name files is a schema error of the rows being written."""
    try:
        key.validate()
    except InvalidTrialKeyError as e:
        raise S.SchemaError(str(e)) from None


def summary_of(evals: pa.Table, version: str) -> pa.Table | None:
    """The per-trial summary of ``evals`` (None for a version this package lacks)."""
    from algoperf_ray.benchmark.versions import UnknownVersionError, get_version
    from algoperf_ray.store.summary import summarize

    try:
        v = get_version(version)
    except UnknownVersionError:
        return None
    return summarize(evals, v).cast(S.SUMMARY_SCHEMA)


def key_mask(table: pa.Table, key_fields: Mapping[str, Any]) -> pa.ChunkedArray:
    mask = None
    for name, value in key_fields.items():
        m = pc.equal(table.column(name), value)
        mask = m if mask is None else pc.and_(mask, m)
    return mask
