"""PyTorch pieces of the LibriSpeech workload leaves, shared by Conformer and DeepSpeech.

Plain functions (no mixin class) so each family keeps a linear class chain:
model placement (device, DDP), the forward pass with the batch-norm update
switch, the CTC loss (``torch.nn.functional.ctc_loss``) and eval outputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload.placement_torch import ddp_info
from algoperf_ray.workloads._librispeech_common_torch import set_batch_norm_update


def place_model(workload: Any, model: nn.Module) -> nn.Module:
    """Record shapes/types, move to the device and wrap in DDP when distributed."""
    workload._param_shapes = param_utils.pytorch_param_shapes(model)
    workload._param_types = param_utils.pytorch_param_types(workload._param_shapes)
    if next(model.parameters()).device.type == "meta":
        return model  # shape-only construction (describe)
    model.to(workload.device)
    if ddp_info()[0]:
        ids = [workload.device.index] if workload.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model


def forward(workload: Any, model: nn.Module, batch: dict[str, Any], mode: spec.ForwardPassMode,
            update_batch_norm: bool, dropout_rate: Any) -> tuple[Any, Any]:
    """(logits, logit_paddings); train mode only when ``mode`` is TRAIN."""
    train = mode == spec.ForwardPassMode.TRAIN
    model.train(train)
    set_batch_norm_update(model, bool(update_batch_norm))
    with torch.set_grad_enabled(train and torch.is_grad_enabled()):
        return model(batch["inputs"], batch["input_paddings"],
                     dropout_rate=float(workload._rate(dropout_rate)))


def ctc_loss(workload: Any, label_batch: Any, logits_batch: Any, mask_batch: Any = None
             ) -> dict[str, Any]:
    """Per-utterance CTC (blank 0, no reduction); ``n_valid_examples`` counts target tokens."""
    targets, target_paddings = workload._label_parts(label_batch)
    if target_paddings is None:
        target_paddings = (targets == 0).float()
    if isinstance(logits_batch, (tuple, list)):
        logits, logit_paddings = logits_batch
    else:
        logits = logits_batch
        logit_paddings = torch.zeros(logits.shape[:2], device=logits.device)
    log_probs = torch.log_softmax(logits.float(), dim=-1).transpose(0, 1)
    input_lengths = (1 - logit_paddings).sum(dim=-1).long()
    target_lengths = (1 - target_paddings).sum(dim=-1).long()
    per_example = F.ctc_loss(log_probs, targets.long(), input_lengths, target_lengths,
                             blank=0, reduction="none")
    tokens = target_lengths.float()
    if mask_batch is not None:
        per_example = per_example * mask_batch
        tokens = tokens * mask_batch
    return {"summed": per_example.sum(), "n_valid_examples": tokens.sum().clamp(min=1.0),
            "per_example": per_example}


def eval_outputs(workload: Any, model: nn.Module, batch: dict[str, Any]) -> dict[str, Any]:
    """Per-row argmax frames, logit paddings and CTC loss of this rank's rows."""
    logits, paddings = forward(workload, model, batch, spec.ForwardPassMode.EVAL, False, None)
    losses = ctc_loss(workload, (batch["targets"], batch["target_paddings"]),
                      (logits, paddings))["per_example"]
    return {"frames": logits.argmax(dim=-1).int(), "logit_paddings": paddings,
            "per_example_loss": losses}
