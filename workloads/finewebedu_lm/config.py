"""Model configuration of the finewebedu_lm decoder, shared by both frameworks.

Defaults are the reference sizes: 12 pre-norm blocks of width 1,024 with 8
heads, a gated feed-forward of inner width 4,096, a 1,024-token context and
GPT-2's 50,257-token vocabulary, with tied input/output embeddings; about
253M parameters. Compute runs in bfloat16 over float32 parameters, as in the
reference. Tests shrink every size through the workload's constructor
options (``REDUCED_SIZE_KWARGS`` in ``metadata.py``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 50257
    seq_len: int = 1024
    model_dim: int = 1024
    num_heads: int = 8
    num_layers: int = 12
    mlp_dim: int = 4096
    # The feed-forward inner width is mlp_dim rounded up to a multiple of this.
    multiple_of: int = 256
    rmsnorm_epsilon: float = 1e-6
    qknorm_epsilon: float = 1e-6
    rope_theta: float = 500_000.0
    compute_dtype: str = "bfloat16"
    param_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.model_dim % self.num_heads or (self.model_dim // self.num_heads) % 2:
            raise ValueError(f"finewebedu_lm: model_dim ({self.model_dim}) must split into "
                             f"num_heads ({self.num_heads}) heads of even width (rotary pairs).")
        for name in ("compute_dtype", "param_dtype"):
            if getattr(self, name) not in DTYPES:
                raise ValueError(f"finewebedu_lm: {name}={getattr(self, name)!r}; "
                                 f"choose one of {DTYPES}.")
        if self.seq_len < 2:
            raise ValueError(f"finewebedu_lm: seq_len must be >= 2, got {self.seq_len}.")

    @property
    def head_dim(self) -> int:
        return self.model_dim // self.num_heads

    @property
    def hidden_dim(self) -> int:
        """Inner width of the gated feed-forward (its first layer is twice as wide)."""
        return self.multiple_of * -(-self.mlp_dim // self.multiple_of)

    @property
    def attn_scale_init(self) -> float:
        """Initial learned logit scale after QK-norm: log2(L^2 - L) (Henry et al., 2020)."""
        return math.log2(self.seq_len ** 2 - self.seq_len)

    @property
    def residual_init_std(self) -> float:
        """Init std of the layers that write into the residual stream (GPT-2 scaling)."""
        return 0.02 / math.sqrt(2 * self.num_layers)


MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}


def split_kwargs(model_kwargs: dict[str, Any], options: dict[str, Any]
                 ) -> tuple[ModelConfig, dict[str, Any]]:
    """(model config, remaining workload options) from metadata + constructor kwargs."""
    merged = {**model_kwargs, **options}
    cfg = ModelConfig(**{k: v for k, v in merged.items() if k in MODEL_FIELDS})
    return cfg, {k: v for k, v in merged.items() if k not in MODEL_FIELDS}
