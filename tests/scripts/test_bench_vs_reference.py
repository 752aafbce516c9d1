"""scripts/bench_vs_reference.py against a tiny fake reference checkout.

The real reference (mlcommons/algorithmic-efficiency) is not needed: the test
writes a checkout with the same layout and workload-class interface whose
step is deliberately slow (a 50 ms host callback), then runs the script's
real driver: our mnist JAX workload in one subprocess, the fake one in
another, on the same batch file.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_vs_reference",
                                               REPO / "scripts" / "bench_vs_reference.py")
bvr = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bvr  # dataclasses look their module up there
_spec.loader.exec_module(bvr)

FAKE_SPEC = """
import enum


class ForwardPassMode(enum.Enum):
    TRAIN = 0
    EVAL = 1
"""

FAKE_SHARDING = """
import jax

SEEN = []


def get_batch_dim_sharding():
    mesh = jax.sharding.Mesh(jax.devices(), ("batch",))
    SEEN.append("batch_dim")
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
"""

FAKE_WORKLOAD = """
import time

import jax
import jax.numpy as jnp

SEEN_SHAPES = []


class MnistWorkload:
    num_hidden = 7  # a size option, as the reference spells them

    def init_model_fn(self, rng):
        k1, _ = jax.random.split(rng)
        return {"w": 0.01 * jax.random.normal(k1, (784, self.num_hidden)),
                "v": jnp.zeros((self.num_hidden, 10))}, None

    def model_fn(self, params, batch, model_state, mode, rng, update_batch_norm,
                 dropout_rate=0.0):
        x = batch["inputs"].reshape((batch["inputs"].shape[0], -1))
        return jnp.tanh(x @ params["w"]) @ params["v"], model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        # a deliberately slow step: 50 ms on the host, every call
        jax.debug.callback(lambda: time.sleep(0.05))
        per = -jnp.sum(jax.nn.one_hot(label_batch, 10) * jax.nn.log_softmax(logits_batch), -1)
        return {"summed": per.sum(), "n_valid_examples": per.shape[0], "per_example": per}
"""


def _fake_checkout(root: Path) -> Path:
    leaf = root / "algoperf" / "workloads" / "mnist" / "mnist_jax"
    leaf.mkdir(parents=True)
    for d in (root / "algoperf", root / "algoperf" / "workloads", leaf.parent, leaf):
        (d / "__init__.py").write_text("")
    (root / "algoperf" / "spec.py").write_text(textwrap.dedent(FAKE_SPEC))
    (root / "algoperf" / "jax_sharding_utils.py").write_text(textwrap.dedent(FAKE_SHARDING))
    (leaf / "workload.py").write_text(textwrap.dedent(FAKE_WORKLOAD))
    return root


def test_summarize_ratio_is_ours_over_reference_of_medians():
    ours, ref = [0.010, 0.030, 0.020], [0.040, 0.050, 0.100, 0.045]
    row = bvr.summarize("mnist", "jax", ours, ref, batch_size=8)
    assert row["ours_ms"] == pytest.approx(20.0)
    assert row["reference_ms"] == pytest.approx(1e3 * statistics.median(ref))
    assert row["ratio"] == pytest.approx(20.0 / 47.5, abs=1e-3)
    assert row["ratio_min"] == pytest.approx(10.0 / 40.0, abs=1e-3)
    assert row["batch_size"] == 8


def test_table_has_one_line_per_row_and_the_first_error_line():
    rows = [bvr.summarize("ogbg", "pytorch", [0.2], [0.1]),
            {"workload": "wmt", "framework": "jax", "error": "reference side failed\nTraceback"}]
    lines = bvr.format_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| workload |")
    assert "| 2.0 |" in lines[2]  # 200 ms / 100 ms
    assert lines[3].endswith("| reference side failed |")


def test_batch_file_round_trips_nested_inputs_and_drops_none(tmp_path):
    batch = {"inputs": {"nodes": np.arange(6.0).reshape(3, 2), "globals": None,
                        "n_node": np.array([3], np.int32)},
             "targets": np.ones((1, 4), np.float32)}
    bvr.save_batch(tmp_path / "b.npz", batch)
    back = bvr.load_batch(tmp_path / "b.npz")
    assert set(back["inputs"]) == {"nodes", "n_node"}
    np.testing.assert_array_equal(back["inputs"]["nodes"], batch["inputs"]["nodes"])
    assert back["inputs"]["n_node"].dtype == np.int32 and back["targets"].shape == (1, 4)


def test_with_sizes_overrides_properties_and_init_attributes():
    class Ref:
        def __init__(self):
            self.vocab_size = 4_194_304  # assigned in __init__, as criteo1tb does

        @property
        def latent_dim(self):
            return 256

    sized = bvr.with_sizes(Ref, {"vocab_size": 8192, "latent_dim": 32})()
    assert (sized.vocab_size, sized.latent_dim) == (8192, 32)
    assert bvr.with_sizes(Ref, {}) is Ref


def test_not_a_checkout_is_a_clear_error(tmp_path, capsys):
    assert bvr.main(["--reference-repo", str(tmp_path), "--workloads", "mnist"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "algoperf/workloads" in err


def test_checkout_without_the_framework_leaf_names_the_missing_file(tmp_path, capsys):
    repo = _fake_checkout(tmp_path)
    assert bvr.main(["--reference-repo", str(repo), "--workloads", "mnist",
                     "--frameworks", "pytorch"]) == 2
    assert "algoperf/workloads/mnist/mnist_pytorch/workload.py is missing" in \
        capsys.readouterr().err


def test_side_by_side_run_against_a_fake_slow_reference(tmp_path, capsys):
    repo = _fake_checkout(tmp_path / "ref")
    out = tmp_path / "rows.json"
    rc = bvr.main(["--reference-repo", str(repo), "--workloads", "mnist",
                   "--frameworks", "jax", "--steps", "3", "--warmup", "1", "--warmup-s", "0",
                   "--batch-size", "16", "--json", str(out), "--timeout", "600"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    (row,) = json.loads(out.read_text())
    assert row["workload"] == "mnist" and row["framework"] == "jax" and row["steps"] == 3
    assert row["reference_ms"] >= 50.0  # the fake's sleep was timed, so it really ran
    assert row["ours_ms"] > 0
    assert row["ratio"] == pytest.approx(row["ours_ms"] / row["reference_ms"], abs=2e-3)
    assert row["ratio"] < 1.0  # our real mnist step is far below the fake's 50 ms
    assert "| mnist | jax |" in printed


def test_our_side_reads_back_a_graph_batch(tmp_path, monkeypatch):
    """ogbg's graph, saved as its fields, reaches our model as its ``GraphsTuple``.

    A real bench run once failed here: the graph came back as a dict.
    ``_build_side`` writes the batch file, reads it back and places it, as the
    worker does; one forward pass must then run on it.
    """
    import jax

    monkeypatch.setenv("BENCH_SIZES", json.dumps(bvr.model_sizes("ogbg", full_size=False)))
    batch_file = tmp_path / "batch.npz"
    workload, spec, params, state, batch = bvr._build_side("ours", "ogbg", "jax", batch_file, 2)
    assert batch_file.exists()
    logits, _ = workload.model_fn(params, batch, state, spec.ForwardPassMode.EVAL,
                                  jax.random.PRNGKey(0), False)
    assert logits.shape[0] == np.asarray(batch["targets"]).shape[0]


def test_rounds_alternate_which_side_runs_first(tmp_path, monkeypatch):
    """A fixed order biases the side that always runs second; rounds alternate it.

    Round 0 starts with ours (it writes the shared batch file); each side's
    times land in its own column whatever the order.
    """
    calls = []

    def fake_run_side(side, python, name, framework, batch_file, args, sizes):
        calls.append(side)
        return {"times": {side: [1.0 if side == "ours" else 2.0]}, "versions": side}

    monkeypatch.setattr(bvr, "run_side", fake_run_side)
    args = bvr.parse_args(["--reference-repo", str(tmp_path), "--workloads", "mnist",
                           "--frameworks", "jax", "--rounds", "4"])
    row = bvr.bench_pair("mnist", "jax", args, tmp_path)
    assert calls == ["ours", "reference", "reference", "ours"] * 2
    assert (row["ours_ms"], row["reference_ms"], row["steps"]) == (1000.0, 2000.0, 4)
    assert (row["ours_versions"], row["reference_versions"]) == ("ours", "reference")


def test_same_process_alternates_both_sides_step_by_step(tmp_path, capsys):
    """``--same-process``: one worker builds both sides; each step of each side is timed.

    The fake reference sleeps 50 ms per step, so its column must show it and
    ours must not, proving the times were not swapped between the sides.
    """
    repo = _fake_checkout(tmp_path / "ref")
    out = tmp_path / "rows.json"
    rc = bvr.main(["--reference-repo", str(repo), "--workloads", "mnist", "--frameworks", "jax",
                   "--steps", "4", "--warmup", "1", "--warmup-s", "0", "--batch-size", "16",
                   "--same-process", "--rounds", "2", "--json", str(out), "--timeout", "600"])
    assert rc == 0, capsys.readouterr().out
    (row,) = json.loads(out.read_text())
    assert row["steps"] == 8 and row["reference_ms"] >= 50.0 and row["ours_ms"] < 50.0


def test_same_process_refuses_two_interpreters(tmp_path, capsys):
    rc = bvr.main(["--reference-repo", str(tmp_path), "--same-process",
                   "--reference-python", "/elsewhere/python"])
    assert rc == 2 and "--same-process" in capsys.readouterr().err
