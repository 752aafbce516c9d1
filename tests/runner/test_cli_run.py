"""``algoperf-ray run`` end to end on digits with the NadamW baseline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.store import Store

HP = json.dumps({"learning_rate": 3e-3, "one_minus_beta1": 0.1, "beta2": 0.999,
                 "weight_decay": 0.01, "warmup_factor": 0.05, "label_smoothing": 0.0,
                 "dropout_rate": 0.0})


def _run(*args: str):
    return CliRunner().invoke(app, ["run", *args])


@pytest.mark.parametrize("framework", ["pytorch", "jax"])
def test_run_trains_digits_to_target(tmp_path, repo_root, framework):
    store = str(tmp_path / "store")
    res = _run("--workload", "digits", "--framework", framework, "--submission",
               str(repo_root / "submissions" / "nadamw"), "--hparams", HP, "--store", store,
               "--eval-period", "0.25")
    assert res.exit_code == 0, res.output
    last = res.output.strip().splitlines()[-1]
    assert "target reached" in last and "submission time" in last
    evals = Store(store).read_evals().to_pylist()
    # the first eval at/over the target gives time-to-target (validation may dip later
    # while training continues towards the test target)
    assert max(r["validation/accuracy"] for r in evals) >= 0.97
    (trial,) = Store(store).read_trials().to_pylist()
    assert trial["status"] == "completed" and trial["framework"] == framework


def test_search_space_trial_k_and_max_steps(tmp_path, repo_root):
    store = str(tmp_path / "store")
    sub = repo_root / "submissions" / "nadamw"
    res = _run("--workload", "digits", "--framework", "pytorch", "--submission", str(sub),
               "--search-space", str(sub / "tuning_search_space.json"), "--trial", "2",
               "--max-steps", "5", "--store", store)
    assert res.exit_code == 0, res.output
    assert "target NOT reached" in res.output and "5 steps" in res.output
    (trial,) = Store(store).read_trials().to_pylist()
    from algoperf_ray.submission.search_space import load_search_space

    want = load_search_space(sub / "tuning_search_space.json").draw(3, 0)[2]
    assert trial["trial"] == 2 and json.loads(trial["hparams"]) == pytest.approx(want)


def test_synthetic_data_and_self_tuning(tmp_path, repo_root):
    res = _run("--workload", "digits", "--framework", "pytorch", "--submission",
               str(repo_root / "submissions" / "nadamw"), "--ruleset", "self", "--data",
               "synthetic", "--max-steps", "3", "--store", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    (trial,) = Store(str(tmp_path / "s")).read_trials().to_pylist()
    assert trial["hparams"] is None and trial["ruleset"] == "self"
    assert trial["version"] == "0.6"  # the current version unless --version says otherwise


def test_version_flag_carries_the_trial_version_into_the_store(tmp_path, repo_root):
    res = _run("--workload", "digits", "--framework", "pytorch", "--submission",
               str(repo_root / "submissions" / "nadamw"), "--ruleset", "self", "--data",
               "synthetic", "--max-steps", "2", "--version", "0.5", "--store", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    assert "v0.5 self" in res.output
    (trial,) = Store(str(tmp_path / "s")).read_trials().to_pylist()
    assert trial["version"] == "0.5"
    assert {r["version"] for r in Store(str(tmp_path / "s")).read_evals().to_pylist()} == {"0.5"}


@pytest.mark.parametrize("args, message", [
    (["--workload", "nope"], "Valid workloads"),
    (["--framework", "tf"], "choose one of"),
    (["--ruleset", "self", "--hparams", "{}"], "self-tuning trials get no hyperparameters"),
    (["--version", "0.9"], "Valid versions: 0.5, 0.6, 0.6-lm"),
    (["--ruleset", "self", "--max-runtime", "-5"], "--max-runtime must be >= 0"),
    (["--ruleset", "self", "--eval-period", "-1"], "--eval-period must be >= 0"),
])
def test_bad_input_is_a_clean_error(tmp_path, repo_root, args, message):
    base = {"--workload": "digits", "--framework": "pytorch",
            "--submission": str(repo_root / "submissions" / "nadamw")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    res = _run(*[x for kv in base.items() for x in kv], "--store", str(tmp_path / "s"))
    assert res.exit_code == 2 and message in res.output


def test_a_failing_trial_exits_non_zero(tmp_path):
    bad = tmp_path / "submission.py"
    bad.write_text(
        "from algoperf import spec\n"
        "def get_batch_size(workload_name): return 8\n"
        "def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):\n"
        "    return None\n"
        "def data_selection(workload, input_queue, optimizer_state, current_param_container,\n"
        "                   model_state, hyperparameters, global_step, rng):\n"
        "    return next(input_queue)\n"
        "def update_params(workload, current_param_container, current_params_types,\n"
        "                  model_state, hyperparameters, batch, loss_type, optimizer_state,\n"
        "                  eval_results, global_step, rng):\n"
        "    raise RuntimeError('boom')\n")
    res = _run("--workload", "digits", "--framework", "pytorch", "--submission", str(bad),
               "--hparams", "{}", "--store", str(tmp_path / "s"))
    assert res.exit_code == 1 and "FAILED" in res.output and "boom" in res.output
    (trial,) = Store(str(tmp_path / "s")).read_trials().to_pylist()
    assert trial["status"] == "failed"


def test_broken_submission_is_one_clean_error_before_the_trial(tmp_path):
    """A submission missing functions: exit 2, one message naming file and names."""
    bad = tmp_path / "submission.py"
    bad.write_text("def get_batch_size(workload_name):\n    return 8\n")
    from typer.testing import CliRunner

    from algoperf_ray.cli import app

    res = CliRunner().invoke(app, ["run", "--workload", "digits", "--framework", "pytorch",
                                   "--submission", str(bad), "--ruleset", "self",
                                   "--store", str(tmp_path / "store")])
    assert res.exit_code == 2, res.output
    assert str(bad) in res.output.replace("\n", "") and "update_params" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "store").exists()
