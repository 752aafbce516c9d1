"""Subprocess body of the legacy-pmap tests: JAX with N fake CPU devices.

``python pmap_worker.py placement`` checks the pmap placement pieces;
``python pmap_worker.py losses WORKLOAD`` runs the pmap fixture for a few
steps through ``run_trial`` and prints its per-step losses as JSON on the
last line. The device count comes from ``XLA_FLAGS`` set by the caller.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np

FIXTURE = Path(__file__).resolve().parents[1] / "submissions" / "fixtures" / "pmap_jax"


def check_placement() -> None:
    from algoperf_ray.benchmark.registry import load_workload
    from algoperf_ray.workload import placement_pmap_jax as pp

    n = jax.local_device_count()
    assert n == 2, n
    plain = load_workload("mnist", "jax", data_mode="synthetic", num_hidden=16)
    legacy = pp.enable_legacy_pmap(load_workload("mnist", "jax", data_mode="synthetic",
                                                 num_hidden=16))
    assert pp.enable_legacy_pmap(legacy) is legacy
    assert jax.tree_map is jax.tree_util.tree_map  # pmap-era name, put back if JAX lacks it
    assert type(legacy).__mro__[1] is pp.LegacyPmapMixin
    rng = jax.random.PRNGKey(0)
    params, _ = plain.init_model_fn(rng)
    rep, state = legacy.init_model_fn(rng)
    leaf, rep_leaf = jax.tree_util.tree_leaves(params)[0], jax.tree_util.tree_leaves(rep)[0]
    assert rep_leaf.shape == (n, *leaf.shape) and state is None
    assert len(rep_leaf.sharding.device_set) == n  # one copy on each device
    np.testing.assert_array_equal(np.asarray(rep_leaf[1]), np.asarray(leaf))
    batch = next(legacy._build_input_queue(rng, "train", None, 8))
    assert batch["inputs"].shape == (n, 4, 28, 28, 1) and batch["targets"].shape == (n, 4)
    # The eval of replicated params equals the jit eval of the plain ones.
    expect = plain._eval_model_on_split("validation", 32, 32, params, None, rng, None)
    got = legacy._eval_model_on_split("validation", 32, 32, rep, None, rng, None)
    assert got == expect and expect["loss"] > 0, (got, expect)
    # Per-device model state (BN statistics) is averaged for eval.
    mean = pp.unreplicate_state({"m": pp.replicate(np.ones(3)) * np.array([[1.0], [3.0]]),
                                 "i": pp.replicate(np.arange(2))})
    np.testing.assert_allclose(np.asarray(mean["m"]), 2.0)
    np.testing.assert_array_equal(np.asarray(mean["i"]), [0, 1])
    try:
        pp.split_rows({"x": np.zeros((3, 2))}, n)
    except ValueError as e:
        assert "multiple of the device count" in str(e)
    else:
        raise AssertionError("an odd batch split over 2 devices must fail")
    check_ogbg_graphs(pp)
    print("placement ok")


def check_ogbg_graphs(pp) -> None:
    """Each device gets one shard's graph with node indices local to that shard."""
    from algoperf_ray.benchmark.registry import load_workload

    workload = pp.enable_legacy_pmap(load_workload(
        "ogbg", "jax", data_mode="synthetic", latent_dim=8, hidden_dims=(8,),
        num_message_passing_steps=1))
    batch = next(workload._build_input_queue(jax.random.PRNGKey(0), "train", None, 8))
    graph = batch["inputs"]
    nodes_per_device = graph.nodes.shape[1]
    assert graph.nodes.shape[0] == 2 and graph.senders.shape[0] == 2
    for field in (graph.senders, graph.receivers):
        values = np.asarray(field)
        assert values.min() >= 0 and values.max() < nodes_per_device, values.max()


def run_losses(workload: str) -> None:
    import importlib

    from algoperf_ray.runner.config import TrialConfig
    from algoperf_ray.runner.trial import run_trial

    kwargs = {}
    if workload != "mnist":
        meta = importlib.import_module(f"algoperf_ray.workloads.{workload}.metadata")
        kwargs = dict(meta.REDUCED_SIZE_KWARGS[workload])
    config = TrialConfig.build(
        workload=workload, framework="jax", submission_path=str(FIXTURE),
        hparams={"learning_rate": 0.01}, ruleset="external", max_global_steps=5,
        eval_period_sec=1e9, data_mode="synthetic", workload_kwargs=kwargs,
        raise_on_error=True)
    result = run_trial(config)
    assert result.status == "completed", result.error
    module = next(m for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and Path(m.__file__).parent == FIXTURE)
    print(json.dumps({"losses": module.LOSSES, "evals": len(result.eval_rows)}))


if __name__ == "__main__":
    if sys.argv[1] == "placement":
        check_placement()
    else:
        run_losses(sys.argv[2])
