"""finewebedu_lm in PyTorch.

Params are the ``nn.Module`` (float32; placed, and DDP-wrapped under
torch.distributed, by the workload's placement); there is no model state.
The forward pass runs under ``torch.autocast`` in the compute dtype (bfloat16), as in the reference;
``loss_fn`` takes the softmax in float32.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.finewebedu_lm import models_torch
from algoperf_ray.workloads.finewebedu_lm.workload import BaseFinewebeduLmWorkload

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                        weights: torch.Tensor | None, label_smoothing: float
                        ) -> dict[str, torch.Tensor]:
    """Per-token CE (float32) with the same label-smoothing rule as the JAX leaf."""
    log_probs = F.log_softmax(logits.float(), dim=-1)
    target_lp = log_probs.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
    per_token = -((1.0 - label_smoothing) * target_lp
                  + label_smoothing / logits.shape[-1] * log_probs.sum(-1))
    if weights is None:
        weights = torch.ones_like(per_token)
    per_token = torch.where(weights > 0, per_token * weights, torch.zeros_like(per_token))
    return {"summed": per_token.sum(), "n_valid_examples": weights.sum(),
            "per_example": per_token}


def param_types(shapes: dict[str, Any]) -> dict[str, spec.ParameterType]:
    """Kinds of the PyTorch parameters; the fused ``w_qkv`` projection is ATTENTION_QKV."""
    fused = {n: spec.ParameterType.ATTENTION_QKV for n in shapes if ".w_qkv." in n}
    rest = param_utils.pytorch_param_types({n: s for n, s in shapes.items() if n not in fused})
    return {n: fused.get(n) or rest[n] for n in shapes}


class FinewebeduLmTorchWorkload(BaseFinewebeduLmWorkload):
    """The reference decoder-only LM on FineWeb-Edu (perplexity)."""

    framework = "pytorch"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate
        if dropout_rate is not None:
            self._dropout_rate = float(dropout_rate)
        torch.manual_seed(rng_lib.to_seed(rng))
        model = models_torch.Transformer(self.cfg)
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        # Tied embeddings: the embedding matrix is also the output projection.
        return str(param_key).removeprefix("module.") in ("embed_tokens.weight",
                                                          "lm_head.weight")

    def _autocast(self) -> Any:
        dtype = _DTYPES[self.cfg.compute_dtype]
        if dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[torch.Tensor, None]:
        del model_state, rng, update_batch_norm
        model = params
        train = mode == spec.ForwardPassMode.TRAIN
        model.train(train)
        rate = self._dropout_rate if dropout_rate is None else float(dropout_rate)
        tokens = augmented_and_preprocessed_input_batch["inputs"].long()
        grad = contextlib.nullcontext() if train else torch.no_grad()
        with grad, self._autocast():
            logits = model(tokens, dropout_rate=rate)
        return logits, None

    def loss_fn(self, label_batch: torch.Tensor, logits_batch: torch.Tensor,
                mask_batch: torch.Tensor | None = None, label_smoothing: float = 0.0
                ) -> dict[str, torch.Tensor]:
        return token_cross_entropy(logits_batch, label_batch, mask_batch, label_smoothing)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  False)
        out = token_cross_entropy(logits, batch["targets"], batch["weights"], 0.0)
        return {"loss": out["summed"], "denominator": out["n_valid_examples"]}
