"""Model configuration of the wmt Transformer, shared by both frameworks.

Defaults are the reference sizes (AlgoPerf ``TransformerConfig``); variants
override ``pre_ln`` / ``attention_temp`` / ``activation`` / ``glu`` through
``WorkloadMeta.model_kwargs`` and tests shrink the sizes through the
workload's constructor kwargs (``REDUCED_SIZE_KWARGS``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ACTIVATIONS = ("relu", "tanh")
DROPOUT_RATE = 0.1  # reference default for residual and attention dropout
PAD_ID = 0  # SentencePiece <unk> doubles as padding, as in the reference
EOS_ID = 2


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 32000
    emb_dim: int = 1024
    num_heads: int = 16
    num_layers: int = 6
    qkv_dim: int = 1024
    mlp_dim: int = 1024
    max_len: int = 256  # rows of the sinusoidal position table
    activation: str = "relu"
    glu: bool = False
    attention_temp: float = 1.0
    pre_ln: bool = True
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"wmt: unknown activation {self.activation!r}; "
                             f"choose one of {ACTIVATIONS}.")
        if self.qkv_dim % self.num_heads or self.emb_dim != self.qkv_dim:
            raise ValueError(f"wmt: qkv_dim ({self.qkv_dim}) must equal emb_dim "
                             f"({self.emb_dim}) and be divisible by num_heads ({self.num_heads}).")


MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}


def split_kwargs(model_kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[ModelConfig, dict]:
    """(model config, remaining workload options) from metadata + constructor kwargs.

    ``seq_len`` (data length, default 256) also sets ``max_len`` when smaller
    tests ask for it, so positions never run past the table.
    """
    merged = {**model_kwargs, **options}
    cfg_kwargs = {k: v for k, v in merged.items() if k in MODEL_FIELDS}
    rest = {k: v for k, v in merged.items() if k not in MODEL_FIELDS}
    seq_len = int(rest.get("seq_len", 256))
    cfg_kwargs.setdefault("max_len", max(seq_len, 256) if "seq_len" not in rest else seq_len)
    rest["seq_len"] = seq_len
    return ModelConfig(**cfg_kwargs), rest
