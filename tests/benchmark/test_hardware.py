"""Benchmark hardware classes (issue #15): the flag, its budgets and its node type.

The published budgets are V100 budgets; an A100 trial must get an A100 budget
from an operator's table or fail before training, never the V100 number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from algoperf_ray.benchmark.hardware import (
    HARDWARE,
    BudgetTableError,
    UnknownHardwareError,
    get_hardware,
    load_budget_table,
)
from algoperf_ray.benchmark.versions import NoHardwareBudgetError, get_version
from algoperf_ray.cli import app
from algoperf_ray.runner import TrialConfig
from algoperf_ray.store import Store
from algoperf_ray.tune.driver import trial_resources
from algoperf_ray.tune.options import TuneOptions, trial_config

TESTS = Path(__file__).resolve().parents[1]
SGD_SUB = TESTS / "ray" / "fixtures" / "sgd_torch"


def test_unknown_class_lists_the_valid_ones():
    with pytest.raises(UnknownHardwareError, match="Valid classes: v100x8, a100x8"):
        get_hardware("h100x8")
    assert get_hardware().name == get_version().hardware == "v100x8"


def test_published_budgets_apply_only_on_their_own_class():
    v = get_version("0.6")
    assert v.max_runtime_sec("ogbg", "external", hardware="v100x8") == 12_011
    with pytest.raises(NoHardwareBudgetError, match=r"--budgets FILE .*--hardware v100x8"):
        v.max_runtime_sec("ogbg", "external", hardware="a100x8")
    # An operator's A100 table entry gets the ruleset factor like any budget.
    assert v.max_runtime_sec("ogbg", "self", runtime_sec=1000, hardware="a100x8") == 1500


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid UTF-8 JSON"),
    ("[1, 2]", "must be a non-empty JSON object"),
    ('{"ogbgg": 10}', "unknown workload 'ogbgg'. Valid workloads:"),
    ('{"ogbg": 0}', "'ogbg' must be a positive number of seconds"),
    ('{"ogbg": "3600"}', "'ogbg' must be a positive number of seconds"),
    ('{"ogbg": true}', "'ogbg' must be a positive number of seconds"),
])
def test_bad_budget_tables_name_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "a100.json"
    path.write_text(content)
    with pytest.raises(BudgetTableError, match=message) as e:
        load_budget_table(path, set(get_version().workloads))
    assert str(path) in str(e.value)


def test_budget_table_reaches_the_trial_budget_and_the_node_type(tmp_path):
    v = get_version()
    table = {"ogbg": 9000.0, "wmt": 30000.0}
    spec = TrialConfig.build(workload="ogbg", framework="jax", submission_path=str(SGD_SUB),
                             ruleset="self").spec
    opts = TuneOptions(experiment="e", storage_path=str(tmp_path), gpus_per_trial=8,
                       hardware="a100x8", budgets=table)
    assert trial_config(spec, opts).budget_sec() == 9000.0 * v.budget_factor("self")
    assert trial_resources("jax", opts) == {"CPU": 1.0, "GPU": 8,
                                            "accelerator_type:A100": 0.001}
    # Without a table entry the trial refuses the V100 budget.
    bare = TuneOptions(experiment="e", storage_path=str(tmp_path), hardware="a100x8")
    with pytest.raises(NoHardwareBudgetError):
        trial_config(spec, bare).budget_sec()


def test_every_class_is_a_node_type_of_cluster_yaml(repo_root):
    """``--hardware X`` pins trials to a resource some node type of cluster.yaml carries."""
    nodes = yaml.safe_load((repo_root / "cluster.yaml").read_text())["available_node_types"]
    carried = {r for node in nodes.values() for r in node.get("resources", {})}
    for hw in HARDWARE.values():
        assert hw.ray_resource in carried, hw
        node = nodes[hw.name]
        assert node["resources"]["GPU"] == hw.gpus_per_node


def _run_digits(store: Path, *extra: str):
    return CliRunner().invoke(app, ["run", "--workload", "digits", "--framework", "pytorch",
                                    "--submission", str(SGD_SUB), "--hparams", "{}",
                                    "--store", str(store), *extra])


def test_run_on_a100_without_budgets_fails_before_training(tmp_path):
    res = _run_digits(tmp_path / "store", "--hardware", "a100x8")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "no budget on a100x8" in text and "--budgets FILE" in text
    assert not (tmp_path / "store").exists()


def test_run_on_a100_trains_to_the_tables_budget(tmp_path):
    """A budget of a microsecond from the table ends the trial after its first step."""
    budgets = tmp_path / "a100.json"
    budgets.write_text(json.dumps({"digits": 1e-6}))
    res = _run_digits(tmp_path / "store", "--hardware", "a100x8", "--budgets", str(budgets))
    assert res.exit_code == 0, res.output
    assert "1 steps, status completed" in " ".join(res.output.split())
    trials = Store(str(tmp_path / "store")).read_trials().to_pylist()
    assert [t["status"] for t in trials] == ["completed"]
    # The trial row records the class and the budget that applied, for scoring.
    extra = json.loads(trials[0]["extra"])
    factor = get_version("0.6").budget_factor(trials[0]["ruleset"])
    assert extra["hardware"] == "a100x8"
    assert extra["budget_sec"] == pytest.approx(1e-6 * factor)


def test_a_trial_on_the_versions_own_class_records_it(tmp_path):
    res = _run_digits(tmp_path / "store", "--max-steps", "1")
    assert res.exit_code == 0, res.output
    (trial,) = Store(str(tmp_path / "store")).read_trials().to_pylist()
    assert json.loads(trial["extra"])["hardware"] == get_version("0.6").hardware == "v100x8"
