"""Ingest of reference-format experiment folders written by the test itself."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.store import Store
from algoperf_ray.store.ingest import IngestError, ingest

HEADER = ("accumulated_eval_time,accumulated_logging_time,accumulated_submission_time,"
          "global_step,preemption_count,score,total_duration,train/loss,validation/loss,"
          "validation/accuracy\n")


def _csv(n: int, start: float = 10.0, acc: str | None = None) -> str:
    lines = []
    for i in range(n):
        t = start * (i + 1)
        a = acc if acc is not None else f"{0.5 + 0.1 * i}"
        lines.append(f"{i},0.0,{t},{100 * (i + 1)},0,{t},{t + 1},{1.0 / (i + 1)},"
                     f"{2.0 / (i + 1)},{a}\n")
    return HEADER + "".join(lines)


def _trial(root: Path, folder: str, study: int, workload: str, trial: int, text: str,
           hparams: dict | None = None) -> Path:
    d = root / folder / f"study_{study}" / workload / f"trial_{trial}"
    d.mkdir(parents=True)
    (d / "eval_measurements.csv").write_text(text)
    if hparams is not None:
        (d / "hparams.json").write_text(json.dumps(hparams))
    return d / "eval_measurements.csv"


@pytest.fixture
def logs(tmp_path) -> Path:
    root = tmp_path / "logs"
    for sub in ("alpha", "beta"):
        for study in (0, 1):
            for trial in (1, 2):
                _trial(root, sub, study, "mnist_jax", trial, _csv(3 + trial),
                       {"learning_rate": 0.01 * trial})
    _trial(root, "alpha", 0, "cifar_pytorch", 1, _csv(2))
    # A re-run folder merges into "alpha"; its trial 1 must not overwrite the original.
    _trial(root, "alpha-2024-01-02-03-04-05", 0, "mnist_jax", 1, _csv(1, start=99.0))
    # A trial folder directly under a study holds no workload: skipped, as the reference.
    stray = root / "beta" / "study_0" / "trial_5"
    stray.mkdir()
    (stray / "eval_measurements.csv").write_text(_csv(2))
    (root / "beta" / "study_1" / "mnist_jax" / "trial_9").mkdir()  # no CSV: left out
    return root


def test_ingest_layout_reruns_and_hparams(logs, tmp_path):
    store = Store(str(tmp_path / "store"))
    report = ingest(str(logs), store, "external", "0.6")
    assert report.submissions == ["alpha", "beta"]
    assert report.trials == 10 and report.missing_csv[0].endswith("trial_9")
    evals = store.read_evals().to_pandas()
    assert len(evals) == 2 * 2 * (4 + 5) + 2 + 1
    alpha = evals[(evals.submission == "alpha") & (evals.workload == "mnist")]
    assert sorted(alpha.trial.unique()) == [1, 2, 1001]
    rerun = alpha[alpha.trial == 1001]
    assert list(rerun.accumulated_submission_time) == [99.0]
    t1 = alpha[(alpha.trial == 1) & (alpha.study == 0)].sort_values("eval_index")
    assert list(t1.accumulated_submission_time) == [10.0, 20.0, 30.0, 40.0]
    assert list(t1.global_step) == [100, 200, 300, 400]
    assert set(evals.framework) == {"jax", "pytorch"}
    trials = store.read_trials().to_pandas()
    hp = trials[(trials.submission == "beta") & (trials.trial == 2)].hparams.iloc[0]
    assert json.loads(hp) == {"learning_rate": 0.02}
    assert set(trials.status) == {"completed"}


def test_nan_in_logs_stays_nan_not_null(logs, tmp_path):
    _trial(logs, "gamma", 0, "mnist_jax", 1, _csv(2, acc="nan"))
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.6")
    acc = store.read_evals(columns=["submission", "validation/accuracy"],
                           filters={"submission": "gamma"}).column("validation/accuracy")
    assert acc.null_count == 0 and all(v != v for v in acc.to_pylist())


def test_two_ingests_give_identical_stores(logs, tmp_path):
    for name in ("s1", "s2"):
        ingest(str(logs), Store(str(tmp_path / name)), "self", "0.5")
    cmp = filecmp.dircmp(tmp_path / "s1", tmp_path / "s2")
    files = sorted(p.relative_to(tmp_path / "s1") for p in (tmp_path / "s1").rglob("*")
                   if p.is_file())
    # evals, trials, summaries x 2 submissions; the manifest and the lock file
    assert len(files) == 8 and {"_manifest.json", "_lock"} <= {str(f) for f in files}
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "s1", tmp_path / "s2",
                                               [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == [] and not cmp.left_only and not cmp.right_only


def test_reingest_replaces_a_submission(logs, tmp_path):
    store = Store(str(tmp_path / "store"))
    ingest(str(logs), store, "external", "0.6")
    first = store.read_evals().num_rows
    ingest(str(logs), store, "external", "0.6")
    assert store.read_evals().num_rows == first


def test_truncated_csv_names_the_path_and_writes_nothing(logs, tmp_path):
    bad = _trial(logs, "beta", 1, "cifar_jax", 3, _csv(3)[:-25])  # cut inside the last row
    store_dir = tmp_path / "store"
    with pytest.raises(IngestError) as err:
        ingest(str(logs), Store(str(store_dir)), "external", "0.6")
    assert str(bad) in str(err.value) and "--skip-bad" in str(err.value)
    assert not store_dir.exists()


def test_cli_skip_bad_reports_skipped_files(logs, tmp_path):
    bad = _trial(logs, "beta", 1, "cifar_jax", 3, _csv(3)[:-25])
    empty = _trial(logs, "alpha", 1, "cifar_jax", 4, "")
    store_dir = tmp_path / "store"
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(logs), "--store", str(store_dir), "--ruleset",
                              "external", "--version", "0.6"])
    assert res.exit_code == 2 and str(bad) in res.output.replace("\n", "")
    res = runner.invoke(app, ["ingest", str(logs), "--store", str(store_dir), "--ruleset",
                              "external", "--version", "0.6", "--skip-bad"])
    assert res.exit_code == 0, res.output
    assert "skipped 2 bad file(s)" in res.output
    assert str(bad) in res.output and str(empty) in res.output
    assert Store(str(store_dir)).read_trials().num_rows == 10


def test_missing_logs_dir_and_bad_ruleset(tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        ingest(str(tmp_path / "nope"), Store(str(tmp_path / "s")), "external", "0.6")
    with pytest.raises(IngestError, match="ruleset 'fast'"):
        ingest(str(tmp_path), Store(str(tmp_path / "s")), "fast", "0.6")
    with pytest.raises(IngestError, match="no trials found"):
        ingest(str(tmp_path), Store(str(tmp_path / "s")), "self", "0.6")


def test_types_do_not_depend_on_file_order(tmp_path):
    root = tmp_path / "logs"
    header = "global_step,score,validation/accuracy\n"
    _trial(root, "delta", 0, "mnist_jax", 1, header + "1,1.0,\n2,2.0,\n")
    _trial(root, "delta", 0, "mnist_jax", 2, header + "1,1.5,0.25\n2,3.0,0.5\n")
    store = Store(str(tmp_path / "store"))
    ingest(str(root), store, "external", "0.6")
    t = store.read_evals().to_pandas().sort_values(["trial", "eval_index"])
    assert t["validation/accuracy"].isna().tolist() == [True, True, False, False]
    assert t["validation/accuracy"].tolist()[2:] == [0.25, 0.5]
    assert t.accumulated_submission_time.tolist() == [1.0, 2.0, 1.5, 3.0]
    assert t.global_step.tolist() == [1, 2, 1, 2]
