"""Graph batching: budgets, padding, NaN weights, shard-local indices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from algoperf_ray.workloads.ogbg import input_pipeline as ip

from .conftest import make_examples


def _graphs(n: int, seed: int = 0) -> list[ip.Graph]:
    return [ip.example_to_graph(e) for e in make_examples(n, seed)]


def test_example_edges_become_bidirectional() -> None:
    ex = make_examples(1, 3)[0]
    g = ip.example_to_graph(ex)
    e = len(ex["edge_index"])
    assert len(g.senders) == 2 * e
    np.testing.assert_array_equal(g.senders[:e], ex["edge_index"][:, 0])
    np.testing.assert_array_equal(g.senders[e:], ex["edge_index"][:, 1])
    np.testing.assert_array_equal(g.receivers[e:], ex["edge_index"][:, 0])
    np.testing.assert_array_equal(g.edges[:e], g.edges[e:])


@pytest.mark.parametrize("num_shards", [1, 2])
def test_batches_have_fixed_budget_shapes(num_shards: int) -> None:
    bs = 8
    budget = ip.Budget.for_graphs(bs // num_shards)
    batches = list(ip.batch_graphs(_graphs(30), bs, num_shards, pad_last=True))
    for b in batches:
        g = b["inputs"]
        assert g.nodes.shape == (num_shards * budget.nodes, 9)
        assert g.edges.shape == (num_shards * budget.edges, 3)
        assert g.senders.shape == g.receivers.shape == (num_shards * budget.edges,)
        assert g.n_node.shape == g.n_edge.shape == (num_shards * budget.graphs,)
        assert b["targets"].shape == b["weights"].shape == (num_shards * budget.graphs, 128)
        for shard in range(num_shards):
            n_node = g.n_node.reshape(num_shards, -1)[shard]
            senders = g.senders.reshape(num_shards, -1)[shard]
            assert n_node.sum() == budget.nodes
            assert g.n_edge.reshape(num_shards, -1)[shard].sum() == budget.edges
            assert senders.min() >= 0 and senders.max() < budget.nodes  # shard-local


def test_every_graph_once_labels_and_weights() -> None:
    examples = make_examples(30, 1)
    graphs = [ip.example_to_graph(e) for e in examples]
    batches = list(ip.batch_graphs(graphs, 8, 2, pad_last=True))
    assert sum(ip.num_real_graphs(b, 2) for b in batches) == 30
    # Real graphs keep stream order; their labels/weights follow NaN.
    seen = []
    for b in batches:
        n_node = b["inputs"].n_node.reshape(2, -1)
        rows = np.arange(len(b["inputs"].n_node)).reshape(2, -1)
        for shard in range(2):
            real = (n_node[shard] > 0).sum() - 1
            seen += [(b["targets"][r], b["weights"][r], n_node[shard][i])
                     for i, r in enumerate(rows[shard][:real])]
            pad_rows = rows[shard][real:]
            assert not b["weights"][pad_rows].any()
    assert len(seen) == 30
    for ex, (targets, weights, n) in zip(examples, seen, strict=True):
        nan = np.isnan(ex["labels"])
        np.testing.assert_array_equal(weights, (~nan).astype(np.float32))
        np.testing.assert_array_equal(targets, np.nan_to_num(ex["labels"]))
        assert n == ex["num_nodes"][0]


def test_padding_edges_point_into_padding_graph() -> None:
    g = _graphs(3)
    shard = ip.pad_shard(g, ip.Budget.for_graphs(4))
    real_n = sum(len(x.nodes) for x in g)
    real_e = sum(len(x.senders) for x in g)
    assert (shard["senders"][real_e:] == real_n).all()
    assert (shard["receivers"][real_e:] == real_n).all()
    assert shard["n_node"][3] == ip.Budget.for_graphs(4).nodes - real_n
    assert (shard["n_node"][4:] == 0).all()
    assert not shard["nodes"][real_n:].any()


def test_train_drops_incomplete_final_group_eval_pads_it() -> None:
    graphs = _graphs(5)
    train = list(ip.batch_graphs(iter(graphs), 2, 2, pad_last=False))
    evals = list(ip.batch_graphs(iter(graphs), 2, 2, pad_last=True))
    assert sum(ip.num_real_graphs(b, 2) for b in evals) == 5
    assert sum(ip.num_real_graphs(b, 2) for b in train) == 4


def test_globalize_indices_offsets_each_shard() -> None:
    b = next(ip.batch_graphs(_graphs(20), 8, 4, pad_last=True))
    g = ip.globalize_indices(b["inputs"], 4)
    per_nodes = len(g.nodes) // 4
    for k, s in enumerate(g.senders.reshape(4, -1)):
        assert s.min() >= k * per_nodes and s.max() < (k + 1) * per_nodes
    np.testing.assert_array_equal(g.senders.reshape(4, -1)[0], b["inputs"].senders.reshape(4, -1)[0])


def test_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match="not divisible by 3"):
        next(ip.batch_graphs(_graphs(4), 8, 3, pad_last=True))
    big = ip.example_to_graph({"node_feat": np.zeros((100, 9)), "edge_feat": np.zeros((1, 3)),
                               "edge_index": np.zeros((1, 2)), "labels": np.zeros(128)})
    with pytest.raises(ValueError, match="exceeds the shard budget"):
        next(ip.batch_graphs([big], 2, 1, pad_last=True))


def test_synthetic_graphs_are_consistent_sparse_and_seeded() -> None:
    graphs = list(itertools.islice(ip.synthetic_graphs(0), 300))
    for g in graphs:
        assert g.senders.max() < len(g.nodes) and len(g.edges) == len(g.senders)
        assert g.nodes.dtype == np.float32 and g.senders.dtype == np.int32
    labels = np.stack([g.labels for g in graphs])
    labelled = labels[~np.isnan(labels)]
    assert 0.3 < len(labelled) / labels.size < 0.5  # many NaN, as in molpcba
    assert 0 < labelled.mean() < 0.05  # few positives: random mAP stays far below target
    again = next(ip.synthetic_graphs(0))
    np.testing.assert_array_equal(again.nodes, graphs[0].nodes)
