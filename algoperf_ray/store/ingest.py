"""Import reference AlgoPerf experiment directories into the results store.

Layout read (as written by the reference ``submission_runner.py``)::

    LOGS_DIR/<submission>/study_<k>/<workload>_<jax|pytorch>/trial_<n>/eval_measurements.csv
                                                                       /hparams.json

A submission may also have re-run folders ``<submission>-YYYY-MM-DD-HH-MM-SS``;
like the reference scorer we merge them into ``<submission>``. Their trials
are kept as extra trials (trial number + 1000 x the folder's rank) so a re-run
never overwrites an original. Folders that do not match the layout (for
example a stray ``trial_*`` directly under a study) hold no trial of any
workload and are skipped, as the reference does.

One ingest is one store transaction. Every folder name and CSV is checked
first (``csvcheck``: strict UTF-8 header, AlgoPerf columns only, the
workload's target column, a final newline, numbers that parse), so a bad file
stops the import with the store untouched; with ``skip_bad`` such files are
skipped and reported instead. Then all submissions are published together
(:meth:`Store.write_submissions`): a killed ingest leaves the old store.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from algoperf_ray.benchmark.identity import InvalidTrialKeyError, check_name
from algoperf_ray.benchmark.versions import BenchmarkVersion, check_ruleset, get_version
from algoperf_ray.store import csvcheck
from algoperf_ray.store import schema as S
from algoperf_ray.store.io import Store

EVAL_CSV = "eval_measurements.csv"
HPARAMS_JSON = "hparams.json"
_TIMESTAMP_RE = re.compile(r"^(?P<name>.+?)-\d{4}(?:-\d{2}){5}$")
_STUDY_RE = re.compile(r"^study_(\d+)$")
_WORKLOAD_RE = re.compile(r"^(?P<workload>.+)_(?P<framework>jax|pytorch)$")
_TRIAL_RE = re.compile(r"^trial_(\d+)")  # a prefix match, as the reference loader
_RERUN_TRIAL_OFFSET = 1000
_KEPT = frozenset({*S.TIMING_COLUMNS, "score"})
_MISSING = object()  # a trial folder without hparams.json (counted in the report)


class IngestError(ValueError):
    """A log file could not be imported; the message names every bad path."""


class _MissingCsv(Exception):
    """A trial folder without eval_measurements.csv: left out, as the reference does."""


@dataclass(frozen=True)
class TrialSource:
    submission: str
    framework: str
    workload: str
    study: int
    trial: int
    directory: str


@dataclass
class IngestReport:
    submissions: list[str] = field(default_factory=list)
    trials: int = 0
    rows: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    missing_csv: list[str] = field(default_factory=list)  # trial dirs without a CSV
    missing_hparams: list[str] = field(default_factory=list)  # trial dirs without hparams.json


def _subdirs(path: str, pattern: re.Pattern | None = None) -> list[os.DirEntry]:
    """Sub-folders of ``path`` (whose names match ``pattern``: the name test is free, a
    folder test may cost a ``stat`` on filesystems without d_type)."""
    with os.scandir(path) as it:
        return sorted((e for e in it if (pattern is None or pattern.match(e.name))
                       and e.is_dir()), key=lambda e: e.name)


def discover(logs_dir: str) -> tuple[list[TrialSource], list[str]]:
    """Every trial directory under ``logs_dir`` (a missing CSV is found when it is read)."""
    if not os.path.isdir(logs_dir):
        raise IngestError(f"logs directory {logs_dir!r} does not exist or is not a directory")
    runs: dict[str, list[str]] = defaultdict(list)
    for entry in _subdirs(logs_dir):
        m = _TIMESTAMP_RE.match(entry.name)
        runs[m.group("name") if m else entry.name].append(entry.name)
    found, missing = [], []
    for submission, folders in sorted(runs.items()):
        try:
            check_name("submission", submission)
        except InvalidTrialKeyError as e:
            raise IngestError(f"{os.path.join(logs_dir, folders[0])}: {e}. Rename the folder "
                              f"(nothing was imported)") from None
        # The plain folder first, then re-runs in timestamp order.
        for rank, folder in enumerate(sorted(folders, key=lambda f: (f != submission, f))):
            offset = rank * _RERUN_TRIAL_OFFSET
            for study_dir in _subdirs(os.path.join(logs_dir, folder), _STUDY_RE):
                if not (sm := _STUDY_RE.match(study_dir.name)):
                    continue
                for wl_dir in _subdirs(study_dir.path, _WORKLOAD_RE):
                    if not (wm := _WORKLOAD_RE.match(wl_dir.name)):
                        continue
                    for trial_dir in _subdirs(wl_dir.path, _TRIAL_RE):
                        if not (tm := _TRIAL_RE.match(trial_dir.name)):
                            continue
                        found.append(TrialSource(
                            submission, wm.group("framework"), wm.group("workload"),
                            int(sm.group(1)), int(tm.group(1)) + offset, trial_dir.path))
    return found, missing


@dataclass
class _RawTrial:
    """The bytes of one trial's CSV, split into header and body."""

    index: int
    path: str
    header: bytes
    body: bytes
    rows: int
    hparams: dict | None
    hparams_missing: bool = False


def _load_raw(i: int, src: TrialSource, version: BenchmarkVersion) -> _RawTrial:
    """Read and check one trial's CSV; a damaged file raises an error naming path and line."""
    path = os.path.join(src.directory, EVAL_CSV)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise _MissingCsv(src.directory) from None
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e})") from None
    if not data.strip():
        raise IngestError(csvcheck.fail(path, None, "empty file (no CSV header)"))
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    ending = csvcheck.check_ending(path, data)
    if ending:
        raise IngestError(ending)
    header, _, body = data.partition(b"\n")
    names, error = csvcheck.check_header(path, header)
    known = version.workloads.get(src.workload)
    error = error or csvcheck.check_target_column(
        path, names, known.metric_column if known else None, src.workload)
    if error:
        raise IngestError(error)
    if b"\n\n" in body or body.startswith(b"\n"):
        body = b"".join(line + b"\n" for line in body.split(b"\n") if line.strip())
    hparams = _read_hparams(os.path.join(src.directory, HPARAMS_JSON))
    return _RawTrial(i, path, header, body, body.count(b"\n"),
                     None if hparams is _MISSING else hparams, hparams is _MISSING)


def _parse(raws: list[_RawTrial]) -> pa.Table:
    """Parse CSVs that share one header with a single pyarrow call (fast path)."""
    buffer = pa.py_buffer(raws[0].header + b"\n" + b"".join(r.body for r in raws))
    # Parse only the columns the store keeps, all as float64 (types never
    # depend on which file comes first). Only empty fields are null, so a
    # logged "nan" stays NaN (a diverged eval), distinct from a missing metric.
    names = [n.strip().strip('"') for n in raws[0].header.decode("utf-8").split(",")]
    keep = [n for n in names if n in _KEPT or S.is_metric(n)]
    options = pacsv.ConvertOptions(null_values=[""], include_columns=keep,
                                   column_types={n: pa.float64() for n in keep})
    table = pacsv.read_csv(pa.BufferReader(buffer), convert_options=options)
    if table.num_rows != sum(r.rows for r in raws):
        raise pa.ArrowInvalid("row count differs from line count")
    return table


def _bad_files(raws: list[_RawTrial]) -> list[tuple[str, str]]:
    """Parse files one by one to name the ones pyarrow rejects."""
    bad = []
    for r in raws:
        try:
            _parse([r])
        except pa.ArrowInvalid:
            names = [n.strip().strip('"') for n in r.header.decode("utf-8").split(",")]
            bad.append((r.path, csvcheck.locate_bad_line(r.path, names, r.body)))
    return bad


def _to_store_columns(raw: pa.Table, raws: list[_RawTrial], sources: list[TrialSource]
                      ) -> pa.Table:
    """A parsed group in the store's eval-file schema, with identity columns."""
    names = raw.column_names
    time_col = "score" if "score" in names else "accumulated_submission_time"
    if time_col not in names:
        raise IngestError(f"{raws[0].path} (and {len(raws) - 1} more with the same header): "
                          f"no 'score' or 'accumulated_submission_time' column; found "
                          f"{', '.join(names)}")
    counts = np.array([r.rows for r in raws], np.int64)
    srcs = [sources[r.index] for r in raws]
    starts = np.repeat(np.cumsum(counts) - counts, counts)

    def per_row(values: list) -> pa.Array:
        return pa.array(np.repeat(np.asarray(values, np.int32), counts))

    def names_per_row(values: list[str]) -> pa.Array:  # dictionary: no per-row strings
        uniq = sorted(set(values))
        codes = np.searchsorted(np.array(uniq, dtype=object), np.array(values, dtype=object))
        return pa.DictionaryArray.from_arrays(per_row(codes.tolist()), pa.array(uniq))

    cols: dict[str, pa.Array] = {
        "framework": names_per_row([s.framework for s in srcs]),
        "workload": names_per_row([s.workload for s in srcs]),
        "study": per_row([s.study for s in srcs]),
        "trial": per_row([s.trial for s in srcs]),
        "eval_index": pa.array((np.arange(counts.sum()) - starts).astype(np.int32)),
        "_source": per_row([r.index for r in raws]),
    }
    try:
        for f in S.TIMING_FIELDS:
            name = time_col if f.name == "accumulated_submission_time" else f.name
            cols[f.name] = (raw.column(name).cast(f.type) if name in names
                            else pa.nulls(raw.num_rows, f.type))
        for name in sorted(c for c in names if S.is_metric(c)):
            cols[name] = raw.column(name).cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise IngestError(f"{raws[0].path} (or another file with its header): a column is "
                          f"not numeric ({e})") from None
    return pa.table(cols)


def _read_hparams(path: str) -> object:
    """The trial's hyperparameters, or ``_MISSING`` (one ``open``, no extra ``stat``)."""
    try:
        with open(path) as f:
            value = json.load(f)
    except FileNotFoundError:
        return _MISSING
    except (OSError, json.JSONDecodeError) as e:
        raise IngestError(f"{path}: not valid JSON ({e})") from None
    return value if isinstance(value, dict) else {"points": value}


def _trials_table(sources: list[TrialSource], hparams: list[dict | None]) -> pa.Table:
    return pa.Table.from_pydict({
        "framework": [s.framework for s in sources], "workload": [s.workload for s in sources],
        "study": [s.study for s in sources], "trial": [s.trial for s in sources],
        "status": ["completed"] * len(sources),
        "hparams": [None if h is None else json.dumps(h, sort_keys=True) for h in hparams],
        "error": [None] * len(sources), "seed": [None] * len(sources),
        "extra": ['{"source": ' + json.dumps(s.directory) + "}" for s in sources],
        "schema_version": [S.SCHEMA_VERSION] * len(sources),
    }, schema=S.TRIALS_SCHEMA)


def _segment(table: pa.Table) -> pa.Table:
    """One submission's rows in the file schema, dropping metric columns it never had."""
    metrics = sorted(c for c in table.column_names
                     if S.is_metric(c) and table.column(c).null_count < table.num_rows)
    return table.select(S.eval_schema(metrics).names).cast(S.eval_schema(metrics))


def _read_all(sources: list[TrialSource], report: IngestReport, workers: int | None,
              progress: Callable[[int, int], None] | None, version: BenchmarkVersion
              ) -> tuple[list[pa.Table], dict]:
    """Read every CSV (threads), parse by shared header; rows per header group + hparams.

    Each group's rows are in source order, so each submission's rows are one
    contiguous slice of every group.
    """
    raws: list[_RawTrial] = []
    n_workers = max(1, workers or 4)
    chunks = [range(k, len(sources), n_workers) for k in range(n_workers)]

    def load(chunk: range) -> list[_RawTrial]:
        """Read one strided share of the files (few tasks: thread overhead stays small)."""
        out = []
        for i in chunk:
            try:
                out.append(_load_raw(i, sources[i], version))
            except _MissingCsv as e:
                report.missing_csv.append(str(e))
            except IngestError as e:
                report.skipped.append((os.path.join(sources[i].directory, EVAL_CSV), str(e)))
            if progress is not None and i % 256 == 0:
                progress(min(i + 1, len(sources)), len(sources))
        return out

    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for part in pool.map(load, chunks):
            raws.extend(part)
    raws.sort(key=lambda r: r.index)
    if progress is not None:
        progress(len(sources), len(sources))
    groups: dict[bytes, list[_RawTrial]] = defaultdict(list)
    for r in raws:
        groups[r.header].append(r)
    tables = []
    for members in groups.values():
        try:
            parsed = _parse(members)
        except pa.ArrowInvalid:
            bad = _bad_files(members)
            report.skipped.extend(bad)
            bad_paths = {p for p, _ in bad}
            members = [r for r in members if r.path not in bad_paths]
            try:
                parsed = _parse(members) if members else None
            except pa.ArrowInvalid:  # each file parses alone: convert them one by one
                tables.extend(_to_store_columns(_parse([r]), [r], sources) for r in members)
                continue
            if parsed is None:
                continue
        tables.append(_to_store_columns(parsed, members, sources))
    report.skipped.sort()
    report.missing_csv.sort()
    skipped = {p for p, _ in report.skipped}
    hparams = {r.index: _MISSING if r.hparams_missing else r.hparams for r in raws
               if r.path not in skipped}
    return tables, hparams


def ingest(logs_dir: str, store: Store, ruleset: str, version: str, *, skip_bad: bool = False,
           workers: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Import every trial under ``logs_dir`` into ``store`` as (version, ruleset).

    Each submission's partition is replaced as a whole, all submissions in
    one transaction. ``progress(done, total)`` is called as files are read.
    Nothing is written when a file is bad unless ``skip_bad``.
    """
    S.check_name("version", version)
    try:
        check_ruleset(ruleset)
    except ValueError as e:
        raise IngestError(str(e)) from None
    v = get_version(version)
    sources, missing = discover(logs_dir)
    report = IngestReport(missing_csv=missing)
    groups, hparams = _read_all(sources, report, workers, progress, v)
    if report.skipped and not skip_bad:
        listing = "\n  ".join(reason for _, reason in report.skipped)
        raise IngestError(f"{len(report.skipped)} bad file(s); nothing was imported. Fix or "
                          f"remove them, or pass --skip-bad to import the rest:\n  {listing}")
    if not hparams:
        raise IngestError(f"no trials found under {logs_dir!r}: expected "
                          f"<submission>/study_<k>/<workload>_<jax|pytorch>/trial_<n>/{EVAL_CSV}")
    good = sorted(hparams)
    report.missing_hparams = [sources[i].directory for i in good if hparams[i] is _MISSING]
    submissions = sorted({sources[i].submission for i in good})
    code = {name: k for k, name in enumerate(submissions)}
    src_code = np.array([code.get(s.submission, -1) for s in sources])
    # Per group: where each submission's rows start (rows are in source order).
    bounds = [np.searchsorted(src_code[g.column("_source").to_numpy()],
                              np.arange(len(submissions) + 1)) for g in groups]
    by_sub: dict[str, list[int]] = defaultdict(list)
    for i in good:
        by_sub[sources[i].submission].append(i)
    segments = {}
    for k, submission in enumerate(submissions):
        parts = [g.slice(b[k], b[k + 1] - b[k]) for g, b in zip(groups, bounds, strict=True)]
        parts = [p for p in parts if p.num_rows]
        evals = (_segment(pa.concat_tables(parts, promote_options="default")) if parts
                 else S.eval_schema([]).empty_table())
        idx = by_sub[submission]
        trials = _trials_table([sources[i] for i in idx], [_hp(hparams[i]) for i in idx])
        segments[(version, ruleset, submission)] = (evals, trials)
        report.submissions.append(submission)
        report.trials += len(idx)
        report.rows += evals.num_rows
    store.write_submissions(segments, workers=max(1, workers or 4))
    return report


def _hp(value: object) -> dict | None:
    return None if value is _MISSING else value  # type: ignore[return-value]
