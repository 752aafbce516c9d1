"""The Tune wiring's plain-data decisions (no Ray needed)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from algoperf_ray.tune.driver import trial_resources
from algoperf_ray.tune.options import DRIVER_CPU, TuneOptions, trial_config
from algoperf_ray.tune.plan import make_plan, resolve_submission
from algoperf_ray.tune.trial import clean_row

SUB = Path(__file__).parent / "fixtures" / "sgd_torch"


def _spec(ruleset="external", version=None):
    ref = resolve_submission(SUB, "pytorch")
    return make_plan(ruleset=ruleset, submissions=[ref], workloads=["digits"],
                     framework="pytorch", studies=1, trials=1, version=version)[0]


def test_checkpoints_are_keyed_by_the_algoperf_trial_not_the_ray_attempt(tmp_path):
    opts = TuneOptions(experiment="e", storage_path=str(tmp_path))
    spec = _spec()
    assert opts.checkpoint_dir(spec) == opts.checkpoint_dir(dataclasses.replace(spec))
    assert opts.checkpoint_dir(spec).endswith(f"e/checkpoints/{spec.trial_id}")


def test_train_is_used_only_where_more_than_one_worker_is_needed(tmp_path):
    single = TuneOptions(experiment="e", storage_path=str(tmp_path))
    ddp = dataclasses.replace(single, gpus_per_trial=8)
    assert not single.wants_train("pytorch") and ddp.wants_train("pytorch")
    assert ddp.num_workers("pytorch") == 8 and ddp.num_workers("jax") == 1
    assert not ddp.wants_train("jax")  # one JAX worker owns the host's devices
    assert trial_resources("pytorch", ddp) == {"CPU": DRIVER_CPU}
    assert trial_resources("jax", ddp) == {"CPU": 1.0, "GPU": 8}
    with pytest.raises(ValueError, match="auto, always or never"):
        dataclasses.replace(single, use_train="sometimes")


def test_a_trial_config_is_its_spec_plus_the_options_and_asks_its_version(tmp_path):
    """The override replaces the version's budget; the version's self-tuning factor applies."""
    opts = TuneOptions(experiment="e", storage_path=str(tmp_path), max_runtime_sec=10,
                       store_uri=str(tmp_path / "s"))
    for version, factor in (("0.6", 1.5), ("0.5", 3.0)):
        external, self_ = _spec("external", version), _spec("self", version)
        config = trial_config(external, opts)
        assert config.spec == external and config.store_uri == opts.store_uri
        assert config.checkpoint_dir == opts.checkpoint_dir(external)
        assert config.budget_sec() == 10
        assert trial_config(self_, opts).budget_sec() == 10 * factor


def test_tune_metrics_hold_only_finite_numbers():
    row = {"global_step": 3, "validation/accuracy": 0.5, "test/accuracy": None,
           "train/loss": float("nan"), "time_to_target": math.inf, "note": "x"}
    assert clean_row(row) == {"global_step": 3, "validation/accuracy": 0.5}


def test_experiment_name_works_for_local_paths_and_uris(tmp_path):
    """A fresh run never reuses a folder; --resume picks the newest; URIs stay URIs."""
    import os

    from algoperf_ray.cli.tune import _experiment_name, _local_or_uri

    for storage in (str(tmp_path), f"file://{tmp_path}"):
        assert _experiment_name(None, "external", storage, resume=False) == "algoperf-external"
    (tmp_path / "algoperf-external").mkdir()
    (tmp_path / "algoperf-external-20260101-000000").mkdir()
    os.utime(tmp_path / "algoperf-external", (1, 1))
    for storage in (str(tmp_path), f"file://{tmp_path}"):
        fresh = _experiment_name(None, "external", storage, resume=False)
        assert fresh.startswith("algoperf-external-") and fresh != "algoperf-external"
        assert _experiment_name(None, "external", storage, resume=True) == \
            "algoperf-external-20260101-000000"
        assert _experiment_name("mine", "external", storage, resume=True) == "mine"
    assert _local_or_uri("s3://bucket/prefix") == "s3://bucket/prefix"
    assert _local_or_uri("rel/dir") == str((tmp_path.cwd() / "rel/dir").resolve())
