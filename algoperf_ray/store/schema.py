"""The results store's Arrow schema: one place, one version number.

Eval rows (one per eval) and trial rows (one per trial) live in two Parquet
datasets, hive-partitioned by ``version``, ``ruleset`` and ``submission``.
The partition columns are not repeated inside the files, so pyarrow, pandas,
polars and duckdb all read them from the directory names. Metric columns are
open-ended: any ``train/``, ``validation/`` or ``test/`` key becomes a
nullable float64 column; readers unify the columns across files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

# 1: files in the partition folders, no manifest (still read, and migrated by
#    the next write); 2: a manifest names the live files (``txn``).
SCHEMA_VERSION = 2

PARTITION_COLUMNS = ("version", "ruleset", "submission")
PARTITIONING_SCHEMA = pa.schema([(c, pa.string()) for c in PARTITION_COLUMNS])

# Identity columns stored inside each file (the rest of the TrialKey).
FILE_KEY_FIELDS = [
    pa.field("framework", pa.string(), nullable=False),
    pa.field("workload", pa.string(), nullable=False),
    pa.field("study", pa.int32(), nullable=False),
    pa.field("trial", pa.int32(), nullable=False),
]
KEY_COLUMNS = PARTITION_COLUMNS + tuple(f.name for f in FILE_KEY_FIELDS)

# Position of the eval within its trial (0, 1, ...): the order evals happened.
EVAL_INDEX = pa.field("eval_index", pa.int32(), nullable=False)
TIMING_FIELDS = [
    pa.field("global_step", pa.int64()),
    pa.field("accumulated_submission_time", pa.float64()),  # the AlgoPerf `score`
    pa.field("accumulated_eval_time", pa.float64()),
    pa.field("accumulated_logging_time", pa.float64()),
    pa.field("total_duration", pa.float64()),
    pa.field("preemption_count", pa.int32()),
]
TIMING_COLUMNS = tuple(f.name for f in TIMING_FIELDS)
METRIC_PREFIXES = ("train/", "validation/", "test/")
_METRIC_RE = re.compile(r"^(train|validation|test)/[A-Za-z0-9_.\-]+$")

TRIAL_STATUSES = ("pending", "running", "completed", "failed", "pruned")
TRIAL_FIELDS = [
    *FILE_KEY_FIELDS,
    pa.field("status", pa.string(), nullable=False),
    pa.field("hparams", pa.string()),  # JSON object, or null (self-tuning)
    pa.field("error", pa.string()),
    pa.field("seed", pa.int64()),
    pa.field("extra", pa.string()),  # JSON object: hardware, source path, ...
    pa.field("schema_version", pa.int32(), nullable=False),
]
TRIALS_SCHEMA = pa.schema(TRIAL_FIELDS)

# Per-trial summaries (derived from the eval rows at write time, see
# ``algoperf_ray.store.summary``): scoring reads one row per trial.
SUMMARY_FIELDS = [
    *FILE_KEY_FIELDS,
    pa.field("n_evals", pa.int32()),
    pa.field("target", pa.float64()),  # the version's target when written (null: unknown)
    pa.field("time_to_target", pa.float64()),  # inf where never reached
    pa.field("hit_index", pa.float64()),  # eval index of the first hit; inf where never
    pa.field("metric_present", pa.bool_()),  # any value of the target metric at all
]
SUMMARY_SCHEMA = pa.schema(SUMMARY_FIELDS)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class SchemaError(ValueError):
    """Rows that do not fit the store's schema; the message names the field."""


def is_metric(name: str) -> bool:
    return bool(_METRIC_RE.match(name))


def check_name(kind: str, value: str) -> str:
    """Names become directory names: keep them to letters, digits, ``_.-``."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise SchemaError(f"{kind} {value!r} is not a valid name: use letters, digits, "
                          f"'_', '.' or '-' (starting with a letter or digit)")
    return value


def eval_schema(metric_names: Sequence[str]) -> pa.Schema:
    """File schema of eval rows with these metric columns (sorted)."""
    metrics = [pa.field(m, pa.float64()) for m in sorted(metric_names)]
    return pa.schema([*FILE_KEY_FIELDS, EVAL_INDEX, *TIMING_FIELDS, *metrics],
                     metadata={"algoperf_ray.schema_version": str(SCHEMA_VERSION)})


def read_schema(columns: Sequence[str]) -> pa.Schema:
    """Dataset schema for reading ``columns`` (missing metric columns read as null)."""
    known = {f.name: f for f in (*FILE_KEY_FIELDS, EVAL_INDEX, *TIMING_FIELDS)}
    fields = []
    for name in columns:
        if name in PARTITION_COLUMNS:
            continue
        if name in known:
            fields.append(known[name])
        elif is_metric(name):
            fields.append(pa.field(name, pa.float64()))
        else:
            valid = ", ".join([*KEY_COLUMNS, EVAL_INDEX.name, *TIMING_COLUMNS])
            raise SchemaError(f"unknown eval column {name!r}; valid: {valid} or a "
                              f"train/, validation/ or test/ metric")
    return pa.schema(fields)


def _float(value: Any, field: str, i: int) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(f"eval row {i}: {field}={value!r} is not a number") from None


def eval_rows_to_table(key_fields: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
                       ) -> pa.Table:
    """Arrow table of one trial's eval rows, in the given (eval) order."""
    metrics: set[str] = set()
    for i, row in enumerate(rows):
        for name in row:
            if name in TIMING_COLUMNS or name == "score":
                continue
            if not is_metric(name):
                raise SchemaError(f"eval row {i}: unknown key {name!r}; expected timing "
                                  f"keys {', '.join(TIMING_COLUMNS)} or metrics named "
                                  f"train/<m>, validation/<m>, test/<m>")
            metrics.add(name)
    schema = eval_schema(sorted(metrics))
    n = len(rows)
    data: dict[str, list] = {k: [key_fields[k]] * n for k in ("framework", "workload",
                                                             "study", "trial")}
    data["eval_index"] = list(range(n))
    for f in TIMING_FIELDS:
        vals = [_float(r.get(f.name, r.get("score") if f.name == "accumulated_submission_time"
                                    else None), f.name, i) for i, r in enumerate(rows)]
        if pa.types.is_integer(f.type):
            vals = [None if v is None or math.isnan(v) else int(v) for v in vals]
        data[f.name] = vals
    for m in sorted(metrics):
        data[m] = [_float(r.get(m), m, i) for i, r in enumerate(rows)]
    return pa.Table.from_pydict(data, schema=schema)


def trial_row_to_table(key_fields: Mapping[str, Any], *, hparams: Mapping | None, status: str,
                       error: str | None, seed: int | None, extra: Mapping | None) -> pa.Table:
    if status not in TRIAL_STATUSES:
        raise SchemaError(f"trial status {status!r} is not one of {', '.join(TRIAL_STATUSES)}")
    row = {k: [key_fields[k]] for k in ("framework", "workload", "study", "trial")}
    row.update(status=[status], error=[error], seed=[None if seed is None else int(seed)],
               hparams=[None if hparams is None else json.dumps(dict(hparams), sort_keys=True,
                                                                default=_json_default)],
               extra=[None if extra is None else json.dumps(dict(extra), sort_keys=True,
                                                            default=_json_default)],
               schema_version=[SCHEMA_VERSION])
    return pa.Table.from_pydict(row, schema=TRIALS_SCHEMA)


def _json_default(value: Any) -> Any:
    """numpy scalars and other number-likes in hparams become plain JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
