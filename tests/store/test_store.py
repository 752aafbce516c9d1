"""The results store against real Parquet files, read back by pandas, polars and duckdb."""

from __future__ import annotations

import multiprocessing as mp
import os

import pyarrow.parquet as pq
import pytest

from algoperf_ray.store import SCHEMA_VERSION, SchemaError, Store, TrialKey


def _key(trial: int = 0, study: int = 0, submission: str = "sub_a",
         workload: str = "mnist") -> TrialKey:
    return TrialKey("0.6", "external", submission, "jax", workload, study, trial)


def _rows(n: int, offset: float = 0.0) -> list[dict]:
    return [{"global_step": 10 * (i + 1), "accumulated_submission_time": 1.5 * (i + 1) + offset,
             "accumulated_eval_time": 0.1 * i, "accumulated_logging_time": 0.0,
             "total_duration": 2.0 * (i + 1), "preemption_count": 0,
             "validation/accuracy": 0.5 + 0.1 * i, "train/loss": 1.0 / (i + 1),
             "test/accuracy": None} for i in range(n)]


def test_roundtrip_and_idempotent_rewrite(tmp_path):
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(3))
    store.write_evals(_key(1), _rows(2))
    store.write_evals(_key(0), _rows(4, offset=100.0))  # a re-run replaces trial 0
    t = store.read_evals().to_pandas().sort_values(["trial", "eval_index"])
    assert list(t.groupby("trial").size()) == [4, 2]
    trial0 = t[t.trial == 0]
    assert list(trial0.accumulated_submission_time) == [101.5, 103.0, 104.5, 106.0]
    assert list(trial0.eval_index) == [0, 1, 2, 3]
    assert set(t.version) == {"0.6"} and set(t.submission) == {"sub_a"}
    assert t["test/accuracy"].isna().all()
    assert pq.read_schema(next(tmp_path.rglob("*.parquet"))).metadata[
        b"algoperf_ray.schema_version"] == str(SCHEMA_VERSION).encode()


def test_trials_and_completed(tmp_path):
    store = Store(str(tmp_path))
    store.write_trial(_key(0), hparams={"learning_rate": 0.1}, status="running", seed=7)
    store.write_trial(_key(0), hparams={"learning_rate": 0.1}, status="completed", seed=7)
    store.write_trial(_key(1), hparams=None, status="failed", error="OOM")
    trials = store.read_trials().to_pandas().sort_values("trial")
    assert list(trials.status) == ["completed", "failed"]
    assert trials.hparams.iloc[0] == '{"learning_rate": 0.1}'
    assert trials.error.iloc[1] == "OOM"
    assert store.completed_trials() == {_key(0)}


def test_read_with_pandas_polars_duckdb(tmp_path):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(3))
    store.write_evals(_key(1, workload="wmt"), [{"accumulated_submission_time": 5.0,
                                                "validation/bleu": 20.0}])
    evals = f"{tmp_path}/evals"
    df = pd.read_parquet(evals)
    assert len(df) == 4 and set(df.workload) == {"mnist", "wmt"}
    unified = store.read_evals().to_pandas()
    assert unified["validation/bleu"].max() == 20.0 and unified["validation/accuracy"].notna().any()
    store.write_trial(_key(0), hparams={"lr": 0.1}, status="completed")
    trials = pd.read_parquet(f"{tmp_path}/trials")
    assert list(trials.status) == ["completed"] and list(trials.version) == ["0.6"]
    # Files differ in their metric columns: polars unions them diagonally.
    files = sorted((tmp_path / "evals").rglob("*.parquet"))
    pdf = pl.concat([pl.read_parquet(f, hive_partitioning=True) for f in files],
                    how="diagonal_relaxed")
    assert pdf.height == 4 and set(pdf["submission"].to_list()) == {"sub_a"}
    assert pdf["validation/bleu"].drop_nulls().to_list() == [20.0]
    common = pl.scan_parquet(f"{evals}/**/*.parquet", hive_partitioning=True,
                             extra_columns="ignore", missing_columns="insert")
    assert common.select(pl.col("accumulated_submission_time").max()).collect().item() == 5.0
    n, bleu = duckdb.sql(
        f"select count(*), max(\"validation/bleu\") from read_parquet('{evals}/**/*.parquet', "
        f"hive_partitioning=true, union_by_name=true) where ruleset = 'external'").fetchall()[0]
    assert (n, bleu) == (4, 20.0)


def test_failed_write_keeps_old_rows_and_no_half_file(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(2))

    from algoperf_ray.store import io

    real_write = io.pq.write_table

    def crash(table, where, **kwargs):  # write part of the file, then die
        real_write(table.slice(0, 1), where, **kwargs)
        raise OSError("disk died mid-write")

    monkeypatch.setattr(io.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk died"):
        store.write_evals(_key(0), _rows(5))
    monkeypatch.undo()
    assert store.read_evals().num_rows == 2
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and ".tmp-" in p.name]
    assert leftovers == []
    # A stray temporary file from a killed writer is never read.
    stray = next(tmp_path.rglob("*.parquet")).parent / ".x.parquet.tmp-dead"
    stray.write_bytes(b"PAR1 truncated")
    assert store.read_evals().num_rows == 2


def _writer(root: str, worker: int) -> None:
    store = Store(root)
    for t in range(6):
        key = _key(trial=worker * 100 + t)
        store.write_evals(key, _rows(3))
        store.write_trial(key, hparams={"w": worker}, status="completed")


def test_concurrent_writers_never_clobber(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(str(tmp_path))
    assert store.read_evals().num_rows == 3 * 6 * 3
    assert len(store.completed_trials()) == 18


def test_write_replaces_rows_inside_an_ingest_segment(tmp_path):
    import pyarrow as pa

    from algoperf_ray.store import schema as S

    store = Store(str(tmp_path))
    seg = S.eval_rows_to_table(_key(0).file_fields(), _rows(3))
    seg = pa.concat_tables([seg, S.eval_rows_to_table(_key(1).file_fields(), _rows(2))])
    trials = S.trial_row_to_table(_key(0).file_fields(), hparams=None, status="completed",
                                  error=None, seed=None, extra=None)
    store.write_submission_segment("0.6", "external", "sub_a", seg, trials)
    store.write_evals(_key(0), _rows(1))
    t = store.read_evals().to_pandas()
    assert sorted(t.groupby("trial").size().items()) == [(0, 1), (1, 2)]


def test_memory_uri_and_empty_store(tmp_path):
    store = Store("memory://")
    assert store.read_evals().num_rows == 0
    assert store.read_trials().num_rows == 0
    store.write_evals(_key(0), _rows(2))
    assert store.read_evals(columns=["submission", "validation/accuracy"]).num_rows == 2
    file_store = Store(f"file://{tmp_path}")
    file_store.write_evals(_key(0), _rows(1))
    assert os.path.isdir(tmp_path / "evals" / "version=0.6")


def test_bad_rows_are_rejected(tmp_path):
    store = Store(str(tmp_path))
    with pytest.raises(SchemaError, match="unknown key 'accuracy'"):
        store.write_evals(_key(0), [{"accuracy": 0.5}])
    with pytest.raises(SchemaError, match="validation/loss='abc' is not a number"):
        store.write_evals(_key(0), [{"validation/loss": "abc"}])
    with pytest.raises(SchemaError, match="status 'done'"):
        store.write_trial(_key(0), hparams=None, status="done")
    with pytest.raises(SchemaError, match="submission 'a/b'"):
        store.write_evals(_key(0, submission="a/b"), _rows(1))
    with pytest.raises(SchemaError, match="unknown eval column"):
        store.read_evals(columns=["bogus"])
