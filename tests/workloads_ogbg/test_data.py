"""The real TFDS pipeline end to end on tiny real-format ogbg_molpcba files."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.ogbg import input_pipeline as ip
from algoperf_ray.workloads.ogbg import metrics
from algoperf_ray.workloads.ogbg.metadata import REDUCED_SIZE_KWARGS


def _real(framework: str):
    return registry.load_workload("ogbg", framework, data_mode="real",
                                  **REDUCED_SIZE_KWARGS["ogbg"])


def _torch_model(w, params):
    """The PyTorch model with ``params`` (converted from Flax for the JAX workload)."""
    if w.framework == "pytorch":
        return params
    import torch

    from algoperf_ray.workloads.ogbg import convert
    from algoperf_ray.workloads.ogbg.models_torch import GNN

    cfg = w.model_config
    model = GNN(activation=cfg["activation"], latent_dim=cfg["latent_dim"],
                hidden_dims=cfg["hidden_dims"],
                num_message_passing_steps=cfg["num_message_passing_steps"])
    sd = convert.jax_to_torch(params, cfg["hidden_dims"], cfg["num_message_passing_steps"])
    model.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    return model


def _unbatched_logits(model, example: dict) -> np.ndarray:
    """Logits of one molecule fed alone, without any padding (independent of the batcher)."""
    import torch

    g = ip.example_to_graph(example)
    inputs = ip.GraphsTuple(nodes=g.nodes, edges=g.edges, receivers=g.receivers,
                            senders=g.senders, globals=None,
                            n_node=np.array([len(g.nodes)], np.int32),
                            n_edge=np.array([len(g.senders)], np.int32))
    inputs = ip.GraphsTuple(*(None if a is None else torch.from_numpy(a) for a in inputs))
    model.eval()
    with torch.no_grad():
        return model(inputs).numpy()[0]


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_eval_matches_unbatched_predictions(ogbg_tfds, framework: str) -> None:
    data_dir, examples = ogbg_tfds
    w = _real(framework)
    params, state = w.init_model_fn(rng_lib.PRNGKey(0))
    val = examples["validation"]
    # Batch size 4 -> several padded batches, the last one partly empty.
    got = w._eval_model_on_split("validation", len(val), 4, params, state,
                                 rng_lib.PRNGKey(0), str(data_dir))
    model = _torch_model(w, params)
    logits = np.stack([_unbatched_logits(model, ex) for ex in val])
    labels = np.stack([ex["labels"] for ex in val])
    want = metrics.eval_metrics(logits, np.nan_to_num(labels), (~np.isnan(labels)) * 1.0)
    for k in ("loss", "accuracy", "mean_average_precision"):
        assert got[k] == pytest.approx(want[k], rel=1e-4), k
    # A different batch size packs the graphs differently; the metrics stay equal.
    again = w._eval_model_on_split("validation", len(val), 16, params, state,
                                   rng_lib.PRNGKey(0), str(data_dir))
    assert again["loss"] == pytest.approx(got["loss"], rel=1e-5)


def test_eval_model_reports_every_split(ogbg_tfds) -> None:
    data_dir, examples = ogbg_tfds
    w = _real("jax")
    import dataclasses

    w._meta = dataclasses.replace(w.meta, num_eval_train_examples=8,
                                  num_validation_examples=len(examples["validation"]),
                                  num_test_examples=len(examples["test"]))
    params, state = w.init_model_fn(rng_lib.PRNGKey(1))
    out = w.eval_model(8, params, state, rng_lib.PRNGKey(0), str(data_dir), None, 0)
    assert set(out) == {f"{p}/{m}" for p in ("train", "validation", "test")
                        for m in ("loss", "accuracy", "mean_average_precision")}
    assert all(np.isfinite(v) for v in out.values())


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_train_batches_from_real_files(ogbg_tfds, framework: str) -> None:
    data_dir, examples = ogbg_tfds
    w = _real(framework)
    queue = w._build_input_queue(rng_lib.PRNGKey(0), "train", str(data_dir), 8)
    # Training repeats forever: more batches than one pass of 24 molecules holds.
    batches = [next(queue) for _ in range(6)]
    params, state = w.init_model_fn(rng_lib.PRNGKey(0))
    logits, _ = w.model_fn(params, batches[-1], state, spec.ForwardPassMode.TRAIN,
                           rng_lib.PRNGKey(1), False)
    loss = w.loss_fn(batches[-1]["targets"], logits, batches[-1]["weights"])
    assert tuple(logits.shape) == (9, 128)
    assert float(loss["n_valid_examples"]) > 0
    assert np.isfinite(float(loss["summed"].detach() if framework == "pytorch"
                             else loss["summed"]))


def test_train_order_depends_on_seed(ogbg_tfds) -> None:
    data_dir, _ = ogbg_tfds
    first = [next(ip.tfds_graphs("train", str(data_dir), s, shuffle=True)).nodes for s in (1, 2)]
    same = next(ip.tfds_graphs("train", str(data_dir), 1, shuffle=True)).nodes
    np.testing.assert_array_equal(first[0], same)
    assert not (first[0].shape == first[1].shape and np.array_equal(first[0], first[1]))


def test_mock_data_reads_through_tfds_and_inconsistent_graphs_are_rejected() -> None:
    """tfds mock examples are random per feature, so their graphs are inconsistent
    (edge features vs edge indices); the pipeline must say so rather than mis-batch."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        with pytest.raises(ValueError, match="inconsistent graph"):
            list(ip.batch_graphs(ip.tfds_graphs("validation", None, 0, shuffle=False),
                                 32, 2, pad_last=True))
