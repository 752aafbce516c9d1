"""criteo1tb workloads (all variants) in PyTorch.

Params are the ``nn.Module`` (wrapped in DDP when torch.distributed is
initialised); each process receives its shard of the global batch. There is
no model state, so ``model_state`` is ``None``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import metrics as metrics_lib
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.criteo1tb import models_torch
from algoperf_ray.workloads.criteo1tb.workload import Criteo1TbWorkload

_MODEL_FIELDS = ("vocab_size", "mlp_bottom_dims", "mlp_top_dims", "embed_dim",
                 "use_layer_norm", "embedding_init_multiplier")


class Criteo1TbTorchWorkload(Criteo1TbWorkload):
    """DLRMsmall (or the residual DLRM for criteo1tb_resnet) in PyTorch."""

    framework = "pytorch"

    def build_model(self) -> nn.Module:
        """A freshly initialised model of this variant (on the current default device)."""
        cls = models_torch.DLRMResNet if self.config["use_resnet"] else models_torch.DlrmSmall
        return cls(**{k: self.config[k] for k in _MODEL_FIELDS})

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # the model has a single dropout
        self._dropout_rate = self._rate(dropout_rate)
        torch.manual_seed(rng_lib.to_seed(rng))
        model = self.build_model()
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        """True for the last Linear's weight and bias (``top_mlp.9.*`` in DLRMsmall)."""
        name = str(param_key).removeprefix("module.")
        prefix = self.__dict__.get("_output_prefix")
        if prefix is None:
            with torch.device("meta"):
                model = self.build_model()
            last = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
            prefix = self.__dict__["_output_prefix"] = last + "."
        return name.startswith(prefix)

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, rng, update_batch_norm
        train = mode == spec.ForwardPassMode.TRAIN
        params.train(train)
        context = contextlib.nullcontext if train else torch.no_grad
        with context():
            logits = params(augmented_and_preprocessed_input_batch["inputs"],
                            dropout_rate=self._rate(dropout_rate))
        return logits, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Per-example sigmoid binary cross entropy (label smoothing is ignored, as in
        the reference)."""
        del label_smoothing
        n = label_batch.shape[0]
        logits = logits_batch.reshape(n)
        targets = label_batch.reshape(n).to(logits.dtype)
        per_example = -(targets * nn.functional.logsigmoid(logits)
                        + (1 - targets) * nn.functional.logsigmoid(-logits))
        mask = None if mask_batch is None else mask_batch.reshape(n)
        return metrics_lib.masked_loss_dict(per_example, mask, torch)


def load_jax_params(model: nn.Module, params: Mapping[str, Any]) -> None:
    """Copy a JAX parameter tree of the same variant into ``model`` (in place).

    Used by the JAX/PyTorch equivalence tests: Dense kernels are transposed
    into Linear weights in order (Dense_0 .. Dense_7 = the Linears in module
    order), LayerNorm_<i> map to bottom-MLP norms, the embedding norm, then
    top-MLP norms (the JAX creation order), and the table is split into the
    four row chunks.
    """
    model = getattr(model, "module", model)
    get = {k: np.asarray(v) for k, v in params.items() if not isinstance(v, Mapping)}
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in model.bot_mlp.modules() if isinstance(m, nn.LayerNorm)]
    norms += [model.embed_ln] if getattr(model, "embed_ln", None) is not None else []
    norms += [m for m in model.top_mlp.modules() if isinstance(m, nn.LayerNorm)]
    pairs = [(m.weight, params[f"Dense_{i}"]["kernel"].T) for i, m in enumerate(linears)]
    pairs += [(m.bias, params[f"Dense_{i}"]["bias"]) for i, m in enumerate(linears)]
    pairs += [(m.weight, params[f"LayerNorm_{i}"]["scale"]) for i, m in enumerate(norms)]
    pairs += [(m.bias, params[f"LayerNorm_{i}"]["bias"]) for i, m in enumerate(norms)]
    chunks = np.split(get["embedding_table"], models_torch.NUM_CHUNKS)
    pairs += [(getattr(model, f"embedding_chunk_{i}"), c) for i, c in enumerate(chunks)]
    leaves = sum(len(v) if isinstance(v, Mapping) else 1 for v in params.values())
    if leaves != 2 * len(linears) + 2 * len(norms) + 1:
        raise ValueError(f"the JAX tree has {leaves} arrays but this PyTorch model has "
                         f"{len(linears)} Linears and {len(norms)} LayerNorms: different "
                         "variants?")
    with torch.no_grad():
        for target, value in pairs:
            if tuple(target.shape) != np.shape(value):
                raise ValueError(f"shape mismatch: PyTorch {tuple(target.shape)} vs JAX "
                                 f"{np.shape(value)}.")
            target.copy_(torch.as_tensor(np.array(value), dtype=target.dtype))
