"""Damaged logs and store files: each is an error naming the file, line and fix, or rebuilt.

Each damage kind is written as a real file (issue #9, parts 2 and 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.store import Store, StoreError, StoreWarning, TrialKey
from algoperf_ray.store.ingest import IngestError, ingest

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")

LS_HEADER = (b"accumulated_eval_time,accumulated_logging_time,accumulated_submission_time,"
             b"global_step,preemption_count,score,total_duration,validation/ctc_loss,"
             b"validation/wer\n")


def _rows(n: int = 4) -> list[bytes]:
    return [f"{i}.5,0.0,{100.0 * (i + 1)},{10 * (i + 1)},0,{100.0 * (i + 1)},{101.0 * (i + 1)},"
            f"0.5,0.0{9 - i}23\n".encode() for i in range(n)]


GOOD = LS_HEADER + b"".join(_rows())


def _cut_after_first_digit_of_last_field(data: bytes) -> bytes:
    return data[:data.rstrip(b"\n").rindex(b",") + 2]


DAMAGE = {  # kind: (file bytes, line named in the error, phrase in the error)
    "truncated mid-field": (_cut_after_first_digit_of_last_field(GOOD), 5, "truncated"),
    "wrong header": (GOOD.replace(b"validation/wer", b"validation_wer", 1), 1, "wrong header"),
    "bad byte in header": (GOOD.replace(b"validation/wer", b"validation/w\xe9r", 1), 1,
                           "not valid UTF-8"),
    "bad byte in a data row": (LS_HEADER + b"".join(_rows()[:2]) + _rows()[2].replace(
        b"0.0723", b"0.07\xff23") + _rows()[3], 4, "not a number"),
    "empty file": (b"", None, "empty file"),
    "duplicated header line": (LS_HEADER + _rows()[0] + LS_HEADER + b"".join(_rows()[1:]), 3,
                               "repeated header line"),
    "non-numeric cell in a metric column": (LS_HEADER + _rows()[0] + _rows()[1].replace(
        b"0.0823", b"abc") + b"".join(_rows()[2:]), 3, "'validation/wer' holds b'abc'"),
}


def _write(root: Path, submission: str, trial: int, data: bytes, hparams: bool = True) -> Path:
    d = root / submission / "study_0" / "librispeech_conformer_jax" / f"trial_{trial}"
    d.mkdir(parents=True)
    (d / "eval_measurements.csv").write_bytes(data)
    if hparams:
        (d / "hparams.json").write_text(json.dumps({"learning_rate": 0.001 * trial}))
    return d / "eval_measurements.csv"


@pytest.fixture
def logs(tmp_path) -> Path:
    root = tmp_path / "logs"
    for trial in (1, 2):
        _write(root, "alpha", trial, GOOD)
    return root


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_each_damage_kind_is_rejected_naming_path_and_line(logs, tmp_path, kind):
    data, line, phrase = DAMAGE[kind]
    bad = _write(logs, "beta", 1, data)
    store_dir = tmp_path / "store"
    with pytest.raises(IngestError) as err:
        ingest(str(logs), Store(str(store_dir)), "external", "0.5")
    message = str(err.value)
    assert str(bad) in message and phrase in message and "--skip-bad" in message
    if line is not None:
        assert f"{bad}, line {line}:" in message
    assert not (store_dir / "evals").exists()  # nothing was written
    report = ingest(str(logs), Store(str(store_dir)), "external", "0.5", skip_bad=True)
    assert [p for p, _ in report.skipped] == [str(bad)]
    assert report.submissions == ["alpha"] and report.trials == 2


def test_truncated_wer_never_reaches_the_target(logs, tmp_path):
    """The reproduction: 0.0923 cut to 0 would have 'reached' the WER target."""
    _write(logs, "beta", 1, _cut_after_first_digit_of_last_field(GOOD))
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.5", skip_bad=True)
    assert store.read_evals(filters={"submission": "beta"}).num_rows == 0


def test_cli_skip_bad_skips_a_wrong_header_and_counts_missing_hparams(logs, tmp_path):
    bad = _write(logs, "beta", 1, DAMAGE["wrong header"][0])
    _write(logs, "beta", 2, GOOD, hparams=False)
    _write(logs, "beta", 3, GOOD, hparams=False)
    args = ["ingest", str(logs), "--store", str(tmp_path / "s"), "--ruleset", "external",
            "--version", "0.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "wrong header" in " ".join(res.output.split())  # rich wraps
    res = CliRunner().invoke(app, [*args, "--skip-bad"])
    assert res.exit_code == 0, res.output
    out = res.output.replace("\n", "")
    assert str(bad) in out and "skipped 1 bad file(s)" in out
    assert "2 trial folder(s) have no hparams.json" in " ".join(res.output.split())
    assert Store(str(tmp_path / "s")).read_trials().num_rows == 4


def test_invalid_submission_name_writes_nothing(logs, tmp_path):
    _write(logs, "zeta bad", 1, GOOD)  # sorted after 'alpha': the old code wrote alpha first
    store_dir = tmp_path / "store"
    with pytest.raises(IngestError, match="zeta bad.*Rename the folder"):
        ingest(str(logs), Store(str(store_dir)), "external", "0.5")
    assert not store_dir.exists()


def test_store_path_that_is_a_file_or_missing(logs, tmp_path):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a store")
    res = CliRunner().invoke(app, ["ingest", str(logs), "--store", str(a_file), "--ruleset",
                                   "external", "--version", "0.5"])
    assert res.exit_code == 2 and "is a file, not a folder" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["score", "--store", str(tmp_path / "nope"), "--ruleset",
                                   "external", "--version", "0.5"])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "does not exist" in out and "it holds" not in out


def _scored(store: Store, **kwargs) -> dict:
    from algoperf_ray.scoring.scoring import score_store

    tt = score_store(store, "external", "0.5", **kwargs).trial_times.to_pydict()
    keys = zip(tt["submission"], tt["workload"], tt["trial"], strict=True)
    return dict(zip(keys, tt["time_to_target"], strict=True))


def test_truncated_eval_parquet_names_the_file(logs, tmp_path):
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.5")
    (evals,) = (tmp_path / "store" / "evals").rglob("*.parquet")
    evals.write_bytes(evals.read_bytes()[:-40])
    with pytest.raises(StoreError, match=f"{evals}: damaged store file.*Re-ingest"):
        store.read_evals()
    with pytest.raises(StoreError, match=f"{evals}: damaged store file"):
        _scored(store, use_summaries=False)


def test_truncated_summary_cache_is_rebuilt_with_a_warning(logs, tmp_path):
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.5")
    before = _scored(store)
    (summary,) = (tmp_path / "store" / "summaries").rglob("*.arrow")
    summary.write_bytes(summary.read_bytes()[:50])
    with pytest.warns(StoreWarning, match="damaged summary cache"):
        assert _scored(store) == before
    assert _scored(store) == before  # rewritten: no second warning needed


def test_newer_schema_version_is_refused(logs, tmp_path):
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.5")
    manifest = tmp_path / "store" / "_manifest.json"
    data = json.loads(manifest.read_text())
    data["schema_version"] = 99
    manifest.write_text(json.dumps(data))
    for action in (store.read_evals, store.read_trials,
                   lambda: ingest(str(logs), store, "external", "0.5")):
        with pytest.raises(StoreError, match="schema version 99.*upgrade algoperf-ray"):
            action()


def test_schema_1_store_is_read_and_migrated_by_the_next_write(tmp_path):
    """A store written before manifests: files directly in the partition folders."""
    import pyarrow.parquet as pq

    from algoperf_ray.store import schema as S

    key = TrialKey("0.5", "external", "old", "jax", "librispeech_conformer", 0, 1)
    rows = [{"accumulated_submission_time": 10.0, "validation/wer": 0.05}]
    part = tmp_path / "evals" / "version=0.5" / "ruleset=external" / "submission=old"
    part.mkdir(parents=True)
    pq.write_table(S.eval_rows_to_table(key.file_fields(), rows), part / key.file_name())
    store = Store(str(tmp_path))
    assert store.read_evals().num_rows == 1 and store.versions() == [("0.5", "external")]
    store.write_evals(TrialKey("0.5", "external", "old", "jax", "librispeech_conformer", 0, 2),
                      rows)
    assert (tmp_path / "_manifest.json").exists() and (part / key.file_name()).exists()
    assert store.read_evals().num_rows == 2


def test_recompute_over_files_with_different_metric_columns(logs, tmp_path):
    """Per-trial files of two workloads next to an ingest segment, all summaries stale."""
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.5")
    for trial, (workload, metric) in enumerate([("ogbg", "validation/mean_average_precision"),
                                                ("wmt", "validation/bleu")]):
        store.write_evals(TrialKey("0.5", "external", "alpha", "jax", workload, 0, trial),
                          [{"accumulated_submission_time": 5.0, metric: 40.0}])
    for summary in (tmp_path / "store" / "summaries").rglob("*.arrow"):
        summary.unlink()
    times = _scored(store)
    assert _scored(store, use_summaries=False) == times and len(times) == 4
    assert times[("alpha", "wmt", 1)] == 5.0 == times[("alpha", "ogbg", 0)]
