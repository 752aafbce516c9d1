"""wmt workloads (base and variants) in PyTorch.

One class serves every variant (options from ``WorkloadMeta.model_kwargs``).
Params are the ``nn.Module`` (wrapped in DDP when torch.distributed is
initialised); there is no model state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.wmt import models_torch
from algoperf_ray.workloads.wmt.workload import WmtWorkload

# model keyword -> batch key (packed training batches; absent in eval batches)
_PACKING_KEYS = {"inputs_positions": "inputs_position", "targets_positions": "targets_position",
                 "inputs_segmentation": "inputs_segmentation",
                 "targets_segmentation": "targets_segmentation"}


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                           weights: torch.Tensor | None, label_smoothing: float
                           ) -> dict[str, torch.Tensor]:
    """Per-token CE against smoothed one-hot targets (same rule as the JAX leaf)."""
    vocab = logits.shape[-1]
    log_probs = F.log_softmax(logits.float(), dim=-1)
    nll = -log_probs.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
    per_token = (1.0 - label_smoothing) * nll - label_smoothing / vocab * log_probs.sum(-1)
    if weights is None:
        weights = torch.ones_like(per_token)
    per_token = torch.where(weights > 0, per_token, torch.zeros_like(per_token))
    return {"summed": per_token.sum(), "n_valid_examples": weights.sum(),
            "per_example": per_token}


def _unwrap(model: Any) -> models_torch.Transformer:
    return getattr(model, "module", model)


class WmtTorchWorkload(WmtWorkload):
    """The reference Transformer on WMT17 de-en (BLEU via beam search)."""

    framework = "pytorch"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the reference uses one rate for residual and attention dropout
        if dropout_rate is not None:
            self._dropout_rate = float(dropout_rate)
        torch.manual_seed(rng_lib.to_seed(rng))
        model = models_torch.Transformer(self.cfg)
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        return param_key in ("shared_embedding.weight", "module.shared_embedding.weight")

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[torch.Tensor, None]:
        del model_state, rng, update_batch_norm
        batch = augmented_and_preprocessed_input_batch
        train = mode == spec.ForwardPassMode.TRAIN
        params.train(train)
        rate = self._dropout_rate if dropout_rate is None else float(dropout_rate)
        extra = {arg: batch.get(key) for arg, key in _PACKING_KEYS.items()}
        with torch.set_grad_enabled(train):
            logits = params(batch["inputs"], batch["targets"], **extra, dropout_rate=rate)
        return logits, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any | None = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        return weighted_cross_entropy(logits_batch, label_batch, mask_batch, label_smoothing)

    def _row_metrics(self, params: Any, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        model = _unwrap(params)
        model.eval()
        with torch.no_grad():
            logits = model(batch["inputs"], batch["targets"])
            weights = batch["weights"].float()
            per_token = weighted_cross_entropy(logits, batch["targets"], weights,
                                               0.0)["per_example"]
            correct = (logits.argmax(-1) == batch["targets"].long()) * weights
            out = {"loss": per_token.sum(-1), "correct": correct.sum(-1),
                   "tokens": weights.sum(-1)}
        return {k: v.double().cpu().numpy() for k, v in out.items()}

    def _translate(self, params: Any, inputs: np.ndarray) -> np.ndarray:
        model = _unwrap(params)
        model.eval()
        device = model.shared_embedding.weight.device
        src = torch.from_numpy(np.ascontiguousarray(inputs)).to(device)
        with torch.no_grad():
            encoded = model.encode(src).repeat_interleave(self.beam_size, dim=0)
        flat_src = src.repeat_interleave(self.beam_size, dim=0)
        if not self.decode_cache:
            return self._beam_search(_uncached_top_k(model, encoded, flat_src), inputs.shape[0])
        with torch.no_grad():
            cache = model.init_cache(encoded, flat_src, self.max_predict_length)

        def next_top_k(prefix: np.ndarray, index: int, k: int,
                       parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            nonlocal cache
            # The decoder input at ``index`` is the token generated at index - 1.
            token = prefix[:, index - 1] if index else np.zeros(prefix.shape[0], np.int64)
            with torch.no_grad():
                cache = model.reorder_cache(cache, torch.from_numpy(parents).to(device))
                logits = model.decode_step(torch.from_numpy(np.asarray(token)).to(device),
                                           index, cache).float()
                values, ids = torch.topk(F.log_softmax(logits, dim=-1), k, dim=-1)
            return values.cpu().numpy(), ids.cpu().numpy()

        return self._beam_search(next_top_k, inputs.shape[0])


def _uncached_top_k(model: models_torch.Transformer, encoded: torch.Tensor,
                    flat_src: torch.Tensor) -> Any:
    """The decoder re-run over the whole prefix at every step (``decode_cache=False``)."""
    device = encoded.device

    def next_top_k(prefix: np.ndarray, index: int, k: int,
                   parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        del parents  # nothing cached to reorder
        with torch.no_grad():
            tgt = torch.from_numpy(np.ascontiguousarray(prefix)).to(device)
            logits = model.decode(encoded, flat_src, tgt, index=index)[:, 0].float()
            values, ids = torch.topk(F.log_softmax(logits, dim=-1), k, dim=-1)
        return values.cpu().numpy(), ids.cpu().numpy()

    return next_top_k
