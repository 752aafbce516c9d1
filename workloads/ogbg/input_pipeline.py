"""ogbg-molpcba as global host numpy batches of padded graphs (framework-free).

Follows the reference pipeline: each molecule becomes a graph with
bidirectional edges; graphs are packed greedily into fixed budgets per shard
(``26 * b + 1`` nodes, ``56 * b`` edges, ``b + 1`` graphs for ``b`` graphs per
shard) and the rest of the budget goes to one padding graph, so every batch
has the same shapes and compiles once. NaN labels become 0 with weight 0;
padding graphs have weight 0 on every task.

A global batch is ``num_shards`` such self-contained shards concatenated
along every axis. Node indices (``senders``/``receivers``) are *local to
their shard*, so a PyTorch DDP rank can slice its shard out unchanged; the
JAX leaf offsets them into one global graph (:func:`globalize_indices`).
Where the reference drops an incomplete final group of shards, eval here pads
it with empty shards so no example is lost.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from algoperf_ray.workloads.ogbg.metadata import (
    AVG_EDGES_PER_GRAPH,
    AVG_NODES_PER_GRAPH,
    EDGE_FEATURES,
    NODE_FEATURES,
    NUM_TASKS,
)

TFDS_NAME = "ogbg_molpcba:0.1.3"
TFDS_SPLIT = {"train": "train", "eval_train": "train", "validation": "validation",
              "test": "test"}
SHUFFLE_BUFFER = 2**15


class GraphsTuple(NamedTuple):
    """Same fields and order as ``jraph.GraphsTuple`` (a JAX pytree as is)."""

    nodes: Any
    edges: Any
    receivers: Any
    senders: Any
    globals: Any
    n_node: Any
    n_edge: Any


class Graph(NamedTuple):
    """One molecule, edges already bidirectional; labels may hold NaN."""

    nodes: np.ndarray  # [n, 9] float32
    edges: np.ndarray  # [e, 3] float32
    senders: np.ndarray  # [e] int32
    receivers: np.ndarray  # [e] int32
    labels: np.ndarray  # [128] float32


def example_to_graph(example: dict[str, np.ndarray]) -> Graph:
    """A TFDS ``ogbg_molpcba`` example -> :class:`Graph` (edges both ways)."""
    edge_index = np.asarray(example["edge_index"], np.int32).reshape(-1, 2)
    edge_feat = np.asarray(example["edge_feat"], np.float32).reshape(-1, EDGE_FEATURES)
    nodes = np.asarray(example["node_feat"], np.float32).reshape(-1, NODE_FEATURES)
    if len(edge_feat) != len(edge_index) or (edge_index.size and edge_index.max() >= len(nodes)):
        raise ValueError(f"ogbg: inconsistent graph: {len(nodes)} nodes, {len(edge_index)} edge "
                         f"indices (max {edge_index.max(initial=-1)}), {len(edge_feat)} edge "
                         "feature rows; the dataset files are corrupt (re-run "
                         "scripts/setup_ogbg.py) or not ogbg_molpcba.")
    senders, receivers = edge_index[:, 0], edge_index[:, 1]
    return Graph(nodes=nodes,
                 edges=np.concatenate([edge_feat, edge_feat]),
                 senders=np.concatenate([senders, receivers]),
                 receivers=np.concatenate([receivers, senders]),
                 labels=np.asarray(example["labels"], np.float32).reshape(NUM_TASKS))


class Budget(NamedTuple):
    """Fixed sizes of one shard: the reference's budgets for ``b`` graphs."""

    nodes: int
    edges: int
    graphs: int

    @classmethod
    def for_graphs(cls, per_shard: int) -> Budget:
        return cls(AVG_NODES_PER_GRAPH * per_shard + 1, AVG_EDGES_PER_GRAPH * per_shard,
                   per_shard + 1)


def _fits(n: int, e: int, g: int, budget: Budget) -> bool:
    # One node and one graph are always kept back for the padding graph.
    return n <= budget.nodes - 1 and e <= budget.edges and g <= budget.graphs - 1


def pack_graphs(graphs: Iterable[Graph], budget: Budget) -> Iterator[list[Graph]]:
    """Greedy packing in stream order, as ``jraph.dynamically_batch`` does."""
    group: list[Graph] = []
    n = e = 0
    for g in graphs:
        gn, ge = len(g.nodes), len(g.senders)
        if not _fits(gn, ge, 1, budget):
            raise ValueError(f"ogbg: a graph with {gn} nodes and {ge} edges exceeds the shard "
                             f"budget {budget}; use a larger batch size.")
        if group and not _fits(n + gn, e + ge, len(group) + 1, budget):
            yield group
            group, n, e = [], 0, 0
        group.append(g)
        n, e = n + gn, e + ge
    if group:
        yield group


def pad_shard(graphs: list[Graph], budget: Budget) -> dict[str, np.ndarray]:
    """Concatenate graphs and pad to ``budget`` (one padding graph, then empty ones)."""
    n_node = np.zeros(budget.graphs, np.int32)
    n_edge = np.zeros(budget.graphs, np.int32)
    n_node[:len(graphs)] = [len(g.nodes) for g in graphs]
    n_edge[:len(graphs)] = [len(g.senders) for g in graphs]
    real_n, real_e = int(n_node.sum()), int(n_edge.sum())
    n_node[len(graphs)] = budget.nodes - real_n  # the padding graph
    n_edge[len(graphs)] = budget.edges - real_e
    offsets = np.concatenate([[0], np.cumsum(n_node[:len(graphs)])[:-1]]).astype(np.int32)
    senders = np.full(budget.edges, real_n, np.int32)  # padding edges -> padding node
    receivers = np.full(budget.edges, real_n, np.int32)
    nodes = np.zeros((budget.nodes, NODE_FEATURES), np.float32)
    edges = np.zeros((budget.edges, EDGE_FEATURES), np.float32)
    labels = np.zeros((budget.graphs, NUM_TASKS), np.float32)
    weights = np.zeros((budget.graphs, NUM_TASKS), np.float32)
    if graphs:
        senders[:real_e] = np.concatenate([g.senders + o for g, o in zip(graphs, offsets, strict=True)])
        receivers[:real_e] = np.concatenate([g.receivers + o for g, o in zip(graphs, offsets, strict=True)])
        nodes[:real_n] = np.concatenate([g.nodes for g in graphs])
        edges[:real_e] = np.concatenate([g.edges for g in graphs])
        raw = np.stack([g.labels for g in graphs])
        labels[:len(graphs)] = np.nan_to_num(raw, nan=0.0)
        weights[:len(graphs)] = ~np.isnan(raw)
    return {"nodes": nodes, "edges": edges, "senders": senders, "receivers": receivers,
            "n_node": n_node, "n_edge": n_edge, "targets": labels, "weights": weights}


def combine_shards(shards: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Concatenate shards into one global batch ``{'inputs','targets','weights'}``."""
    cat = {k: np.concatenate([s[k] for s in shards]) for k in shards[0]}
    inputs = GraphsTuple(nodes=cat["nodes"], edges=cat["edges"], receivers=cat["receivers"],
                         senders=cat["senders"], globals=None, n_node=cat["n_node"],
                         n_edge=cat["n_edge"])
    return {"inputs": inputs, "targets": cat["targets"], "weights": cat["weights"]}


def batch_graphs(graphs: Iterable[Graph], global_batch_size: int, num_shards: int,
                 pad_last: bool) -> Iterator[dict[str, Any]]:
    """Global batches of ``num_shards`` padded shards of ``global_batch_size / num_shards``."""
    if global_batch_size % num_shards:
        raise ValueError(f"ogbg: global batch size {global_batch_size} is not divisible by "
                         f"{num_shards} devices/processes; pick a multiple.")
    budget = Budget.for_graphs(global_batch_size // num_shards)
    groups = (pad_shard(g, budget) for g in pack_graphs(graphs, budget))
    while True:
        shards = list(itertools.islice(groups, num_shards))
        if not shards or (len(shards) < num_shards and not pad_last):
            return
        shards += [pad_shard([], budget)] * (num_shards - len(shards))
        yield combine_shards(shards)


def globalize_indices(inputs: GraphsTuple, num_shards: int) -> GraphsTuple:
    """Shard-local node indices -> indices into the concatenated global graph."""
    nodes_per_shard = len(inputs.nodes) // num_shards
    edges_per_shard = len(inputs.senders) // num_shards
    offset = (np.arange(len(inputs.senders)) // edges_per_shard * nodes_per_shard)
    offset = offset.astype(inputs.senders.dtype)
    return inputs._replace(senders=inputs.senders + offset, receivers=inputs.receivers + offset)


def num_real_graphs(batch: dict[str, Any], num_shards: int) -> int:
    """Molecules in a batch: per shard, non-empty graphs minus the padding graph."""
    n_node = np.asarray(batch["inputs"].n_node).reshape(num_shards, -1)
    return int((n_node > 0).sum() - num_shards)


# ---- sources ----------------------------------------------------------------------------
def tfds_graphs(split: str, data_dir: str | None, seed: int, shuffle: bool) -> Iterator[Graph]:
    """Molecules of ``split`` from TFDS, shuffled and repeated forever when ``shuffle``."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if split not in TFDS_SPLIT:
        raise ValueError(f"ogbg: unknown split {split!r}; valid: {sorted(TFDS_SPLIT)}.")
    read_config = tfds.ReadConfig(shuffle_seed=seed if shuffle else None)
    ds = tfds.load(TFDS_NAME, split=TFDS_SPLIT[split], data_dir=data_dir,
                   shuffle_files=shuffle, read_config=read_config)
    if shuffle:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed).repeat()
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return map(example_to_graph, tfds.as_numpy(ds))


def synthetic_graphs(seed: int, nan_fraction: float = 0.6, positive_rate: float = 0.02,
                     pool_size: int = 2048) -> Iterator[Graph]:
    """Random molecule-like graphs with the real feature ranges (forever).

    Sizes are drawn around the dataset averages so the node/edge budgets bind
    as they do on real data; features are small integers stored as float32,
    as in ogbg-molpcba. Labels are sparse like molpcba's (few positives, many
    NaN), so an untrained model's mAP stays far below the target and a
    synthetic trial never "reaches" it. Graphs are drawn from a fixed pool so
    that building a 32k-graph eval batch costs no Python-level generation.
    """
    gen = np.random.default_rng(seed)

    def one() -> Graph:
        n = int(gen.integers(8, 45))
        e = int(gen.integers(n - 1, n + 8))
        labels = (gen.random(NUM_TASKS) < positive_rate).astype(np.float32)
        labels[gen.random(NUM_TASKS) < nan_fraction] = np.nan
        return example_to_graph({
            "node_feat": gen.integers(0, 10, size=(n, NODE_FEATURES)).astype(np.float32),
            "edge_feat": gen.integers(0, 4, size=(e, EDGE_FEATURES)).astype(np.float32),
            "edge_index": gen.integers(0, n, size=(e, 2)), "labels": labels})

    pool = [one() for _ in range(pool_size)]
    while True:
        for i in gen.integers(0, pool_size, size=1024):
            yield pool[i]
