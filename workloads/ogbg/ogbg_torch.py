"""ogbg in PyTorch: the reference GNN port, module names as in the reference.

Each DDP rank receives one self-contained shard of the global graph batch
(node indices local to the shard), so message passing needs no
communication; eval predictions are all-gathered for the mAP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from algoperf_ray.workloads.ogbg import input_pipeline
from algoperf_ray.workloads.ogbg.metadata import EDGE_FEATURES, NODE_FEATURES
from algoperf_ray.workloads.ogbg.workload import OgbgWorkloadMixin
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.base_torch import TorchWorkload, ddp_info

DROPOUT_RATE = 0.1
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU}


def lecun_normal_(linear: nn.Linear) -> None:
    """Truncated-normal LeCun init (Flax's Dense default), zero bias."""
    std = math.sqrt(1.0 / linear.in_features) / 0.87962566103423978
    nn.init.trunc_normal_(linear.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(linear.bias)


class MLP(nn.Module):
    """Dense -> LayerNorm -> activation -> dropout, per hidden width."""

    def __init__(self, in_dim: int, hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.depth = len(hidden_dims)
        for i, dim in enumerate(hidden_dims):
            self.add_module(f"dense_{i}", nn.Linear(in_dim, dim))
            self.add_module(f"norm_{i}", nn.LayerNorm(dim, eps=1e-6))
            self.add_module(f"activation_fn_{i}", _ACTIVATIONS[activation]())
            in_dim = dim

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        for i in range(self.depth):
            x = getattr(self, f"activation_fn_{i}")(getattr(self, f"norm_{i}")(
                getattr(self, f"dense_{i}")(x)))
            x = F.dropout(x, dropout_rate, training=self.training)
        return x


class GraphNetwork(nn.Module):
    """One message-passing block: update edges, then nodes, then globals."""

    def __init__(self, edge_in: int, node_in: int, global_in: int,
                 hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.update_edge_fn = MLP(edge_in, hidden_dims, activation)
        self.update_node_fn = MLP(node_in, hidden_dims, activation)
        self.update_global_fn = MLP(global_in, hidden_dims, activation)

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor, globals_: torch.Tensor,
                graph: Any, segments: tuple[torch.Tensor, torch.Tensor],
                dropout_rate: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        node_graph, edge_graph = segments
        senders, receivers = graph.senders.long(), graph.receivers.long()
        edges = self.update_edge_fn(torch.cat(
            [edges, nodes[senders], nodes[receivers], globals_[edge_graph]], dim=-1),
            dropout_rate)
        nodes = self.update_node_fn(torch.cat(
            [nodes, _segment_sum(edges, senders, len(nodes)),
             _segment_sum(edges, receivers, len(nodes)), globals_[node_graph]], dim=-1),
            dropout_rate)
        n_graph = len(globals_)
        globals_ = self.update_global_fn(torch.cat(
            [_segment_sum(nodes, node_graph, n_graph), _segment_sum(edges, edge_graph, n_graph),
             globals_], dim=-1), dropout_rate)
        return nodes, edges, globals_


def _segment_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros((size, values.shape[-1]), dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)


class GNN(nn.Module):
    """The reference GNN: embeddings, GraphNetwork blocks, decoder on globals."""

    def __init__(self, num_outputs: int = 128, activation: str = "relu", latent_dim: int = 256,
                 hidden_dims: tuple[int, ...] = (256,), num_message_passing_steps: int = 5) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.node_embedder = nn.Linear(NODE_FEATURES, latent_dim)
        self.edge_embedder = nn.Linear(EDGE_FEATURES, latent_dim)
        h = hidden_dims[-1]
        blocks = []
        for step in range(num_message_passing_steps):
            if step == 0:  # embeddings and zero globals of width num_outputs
                dims = (3 * latent_dim + num_outputs, latent_dim + 2 * h + num_outputs,
                        2 * h + num_outputs)
            else:
                dims = (4 * h, 4 * h, 3 * h)
            blocks.append(GraphNetwork(*dims, hidden_dims, activation))
        self.graph_network = nn.ModuleList(blocks)
        self.decoder = nn.Linear(h, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                lecun_normal_(m)

    def forward(self, graph: Any, dropout_rate: float = DROPOUT_RATE) -> torch.Tensor:
        n_node, n_edge = graph.n_node.long(), graph.n_edge.long()
        n_graph = len(n_node)
        idx = torch.arange(n_graph, device=n_node.device)
        nodes = self.node_embedder(graph.nodes)
        edges = self.edge_embedder(graph.edges)
        segments = (torch.repeat_interleave(idx, n_node, output_size=len(nodes)),
                    torch.repeat_interleave(idx, n_edge, output_size=len(edges)))
        globals_ = torch.zeros((n_graph, self.num_outputs), dtype=nodes.dtype,
                               device=nodes.device)
        for block in self.graph_network:
            nodes, edges, globals_ = block(nodes, edges, globals_, graph, segments, dropout_rate)
        return self.decoder(globals_)


class OgbgTorchWorkload(OgbgWorkloadMixin, TorchWorkload):
    """All four ogbg workloads in PyTorch; the variant comes from ``meta.model_kwargs``."""

    def _xp(self) -> Any:
        return torch

    def _num_shards(self) -> int:
        return ddp_info()[2]

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # the GNN has one dropout rate
        torch.manual_seed(rng_lib.to_seed(rng))
        cfg = self.model_config
        self._dropout_rate = DROPOUT_RATE if dropout_rate is None else dropout_rate
        model = GNN(num_outputs=self._num_outputs, activation=cfg["activation"],
                    latent_dim=cfg["latent_dim"], hidden_dims=cfg["hidden_dims"],
                    num_message_passing_steps=cfg["num_message_passing_steps"])
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        if model.decoder.weight.device.type == "meta":
            return model, None  # shape-only construction (describe)
        model.to(self.device)
        use_ddp, _, _ = ddp_info()
        if use_ddp:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model, None

    def is_output_params(self, param_key: Any) -> bool:
        return param_key in ("decoder.weight", "decoder.bias")

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del rng, update_batch_norm  # torch's global RNG drives dropout; no batch norm
        if model_state is not None:
            raise ValueError(f"ogbg has no model state; got {type(model_state).__name__}.")
        rate = getattr(self, "_dropout_rate", DROPOUT_RATE) if dropout_rate is None \
            else dropout_rate
        train = mode == spec.ForwardPassMode.TRAIN
        params.train(train)
        with torch.set_grad_enabled(train and torch.is_grad_enabled()):
            logits = params(augmented_and_preprocessed_input_batch["inputs"], dropout_rate=rate)
        return logits, None

    def _local_part(self, array: np.ndarray) -> np.ndarray:
        _, rank, world = ddp_info()
        per = len(array) // world
        return np.ascontiguousarray(array[rank * per:(rank + 1) * per])

    def _to_device(self, batch: dict[str, Any], train: bool) -> dict[str, Any]:
        """This rank's shard of every array (its graphs are self-contained)."""
        def put(a: Any) -> Any:
            return None if a is None else torch.from_numpy(self._local_part(a)).to(self.device)

        inputs = input_pipeline.GraphsTuple(*(put(a) for a in batch["inputs"]))
        return {"inputs": inputs, "targets": put(batch["targets"]),
                "weights": put(batch["weights"])}

    def _predict(self, params: Any, model_state: Any, batch: dict[str, Any]) -> np.ndarray:
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL,
                                  None, update_batch_norm=False)
        return logits.detach().float().cpu().numpy()

    def _gather(self, array: np.ndarray) -> np.ndarray:
        use_ddp, _, world = ddp_info()
        if not use_ddp:
            return array
        t = torch.from_numpy(array)
        if dist.get_backend() == "nccl":
            t = t.to(self.device)
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t)
        return torch.cat(parts).cpu().numpy()
