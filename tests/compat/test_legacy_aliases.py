"""The ``algoperf.*`` / ``algorithmic_efficiency.*`` helpers pmap-era code imports."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from algoperf_ray import compat


@pytest.fixture
def aliases():
    compat.install()
    yield
    compat.uninstall()


@pytest.mark.parametrize("root", ["algoperf", "algorithmic_efficiency"])
def test_jax_utils_dropout_is_the_workloads_layer(aliases, root):
    from algoperf_ray.workload.dropout_jax import Dropout

    module = importlib.import_module(f"{root}.jax_utils")
    assert module.Dropout is Dropout and callable(module.print_jax_model_summary)


def test_data_utils_pads_with_zero_weights_and_shards(aliases):
    data_utils = importlib.import_module("algorithmic_efficiency.data_utils")
    batch = {"inputs": np.ones((3, 2), np.float32), "targets": np.arange(3)}
    padded = data_utils.shard_and_maybe_pad_np(batch, global_batch_size=5)
    assert padded["inputs"].shape == (5, 2) and padded["targets"].tolist() == [0, 1, 2, 0, 0]
    assert padded["weights"].tolist() == [1, 1, 1, 0, 0]
    assert data_utils.shard_and_maybe_pad_np(batch) is batch  # one device: nothing to pad
    with pytest.raises(ValueError, match="global_batch_size"):
        data_utils.shard_and_maybe_pad_np(batch, global_batch_size=2)
    sharded = data_utils.shard(padded)
    assert sharded["inputs"].shape == (data_utils.local_device_count(), 5, 2)


def test_data_utils_cycle_repeats_as_dicts(aliases):
    data_utils = importlib.import_module("algoperf.data_utils")
    it = data_utils.cycle([(1, 2), (3, 4)])
    assert [next(it) for _ in range(3)] == [{"inputs": 1, "targets": 2},
                                           {"inputs": 3, "targets": 4},
                                           {"inputs": 1, "targets": 2}]
