"""Benchmark facts for the ogbg family (current AlgoPerf version, v0.6).

One GNN (a jraph-style GraphNetwork) on ogbg-molpcba, plus three variants
that change only the activation or the model size. Targets, budgets and
example counts are the reference's (``algoperf/workloads/ogbg``); the
variants share the base workload's budget and step hint.

A training batch is ``B`` graphs packed into fixed node/edge budgets
(``26 * B + 1`` nodes, ``56 * B`` edges, ``B + 1`` graphs per shard; see
``input_pipeline``), so the ``batch_fields`` below give the per-graph share
of the budget: ``inputs.nodes`` of shape ``(26, 9)`` means 26 node rows of 9
features per graph in the batch.
"""

from __future__ import annotations

import dataclasses

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

NUM_TASKS = 128
NODE_FEATURES = 9
EDGE_FEATURES = 3
AVG_NODES_PER_GRAPH = 26
AVG_EDGES_PER_GRAPH = 56

# Architecture of the base GNN (reference defaults).
BASE_MODEL = {"activation": "relu", "latent_dim": 256, "hidden_dims": (256,),
              "num_message_passing_steps": 5}

BATCH_FIELDS = {
    "inputs.nodes": BatchField((AVG_NODES_PER_GRAPH, NODE_FEATURES), "float32"),
    "inputs.edges": BatchField((AVG_EDGES_PER_GRAPH, EDGE_FEATURES), "float32"),
    "inputs.senders": BatchField((AVG_EDGES_PER_GRAPH,), "int32"),
    "inputs.receivers": BatchField((AVG_EDGES_PER_GRAPH,), "int32"),
    "inputs.n_node": BatchField((1,), "int32"),
    "inputs.n_edge": BatchField((1,), "int32"),
    "targets": BatchField((NUM_TASKS,), "float32", high=2),
    "weights": BatchField((NUM_TASKS,), "float32", high=2),
}


def num_params(latent_dim: int, hidden_dims: tuple[int, ...], num_message_passing_steps: int,
               **_: object) -> int:
    """Parameter count of the reference GNN, from its layer sizes.

    Dense layers have a bias, every hidden layer is followed by a LayerNorm
    (scale + bias). Step 0 sees the embeddings and zero globals of width
    ``NUM_TASKS``; later steps see ``hidden_dims[-1]``-wide features.
    """
    h = hidden_dims[-1]

    def mlp(in_dim: int) -> int:
        total = 0
        for dim in hidden_dims:
            total += in_dim * dim + dim + 2 * dim
            in_dim = dim
        return total

    total = (NODE_FEATURES + 1) * latent_dim + (EDGE_FEATURES + 1) * latent_dim
    for step in range(num_message_passing_steps):
        if step == 0:
            edge_in, node_in, global_in = (3 * latent_dim + NUM_TASKS,
                                           latent_dim + 2 * h + NUM_TASKS, 2 * h + NUM_TASKS)
        else:
            edge_in, node_in, global_in = 4 * h, 4 * h, 3 * h
        total += mlp(edge_in) + mlp(node_in) + mlp(global_in)
    return total + h * NUM_TASKS + NUM_TASKS


_BASE = WorkloadMeta(
    name="ogbg",
    family="ogbg",
    target_metric_name="mean_average_precision",
    validation_target=0.28098,
    test_target=0.268729,
    max_runtime_sec=12011,
    eval_period_sec=240,
    step_hint=52000,
    loss_type=LossType.SIGMOID_CROSS_ENTROPY,
    num_train_examples=350343,
    num_eval_train_examples=43793,
    num_validation_examples=43793,
    num_test_examples=43793,
    eval_batch_size=32768,
    jax_class="algoperf_ray.workloads.ogbg.ogbg_jax:OgbgJaxWorkload",
    torch_class="algoperf_ray.workloads.ogbg.ogbg_torch:OgbgTorchWorkload",
    batch_fields=BATCH_FIELDS,
    num_params=num_params(**BASE_MODEL),
    model_kwargs=BASE_MODEL,
    description="GNN (GraphNetwork, 5 message-passing steps) on ogbg-molpcba, 128 tasks.",
)


def _variant(name: str, val: float, test: float, description: str, **model: object) -> WorkloadMeta:
    kwargs = {**BASE_MODEL, **model}
    return dataclasses.replace(_BASE, name=name, base="ogbg", validation_target=val,
                               test_target=test, model_kwargs=kwargs,
                               num_params=num_params(**kwargs), description=description)


WORKLOADS = [
    _BASE,
    _variant("ogbg_gelu", 0.27771, 0.262926, "ogbg with GELU (tanh approximation).",
             activation="gelu"),
    _variant("ogbg_silu", 0.282178, 0.272144, "ogbg with SiLU.", activation="silu"),
    _variant("ogbg_model_size", 0.269446, 0.253051,
             "ogbg with latent 128, two 256-wide hidden layers, 3 message-passing steps.",
             latent_dim=128, hidden_dims=(256, 256), num_message_passing_steps=3),
]

# Small CPU-sized models (constructor kwargs) for tests and benchmarks.
# ``max_eval_examples`` caps the eval splits (and eval batch) so a CPU run's evals stay small.
_SMALL = {"latent_dim": 32, "hidden_dims": (32,), "num_message_passing_steps": 2,
          "max_eval_examples": 256}
REDUCED_SIZE_KWARGS: dict[str, dict] = {
    "ogbg": dict(_SMALL),
    "ogbg_gelu": dict(_SMALL),
    "ogbg_silu": dict(_SMALL),
    "ogbg_model_size": {**_SMALL, "latent_dim": 16, "hidden_dims": (32, 32)},
}
