"""imagenet_vit in JAX/Flax: the four ViT-S/16 workloads (variant from metadata).

No model state (the ViT has no batch norm). ``dropout_rate`` reaches the
model at call time, so a submission may pass a traced rate under ``jax.jit``.
"""

from __future__ import annotations

from typing import Any

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.imagenet_resnet.imagenet_resnet_jax import ImagenetJaxMixin
from algoperf_ray.workloads.imagenet_vit.models_jax import ViT
from algoperf_ray.workloads.imagenet_vit.workload import ImagenetVitWorkload


class ImagenetVitJaxWorkload(ImagenetJaxMixin, ImagenetVitWorkload):

    def build_model(self) -> ViT:
        cfg = self.model_config
        patch = int(cfg["patch_size"])
        return ViT(num_classes=self.num_classes, patch_size=(patch, patch),
                   width=int(cfg["width"]), depth=int(cfg["depth"]), mlp_dim=int(cfg["mlp_dim"]),
                   num_heads=int(cfg["num_heads"]), use_glu=bool(cfg["use_glu"]),
                   use_post_layer_norm=bool(cfg["use_post_layer_norm"]),
                   use_map=bool(cfg["use_map"]))

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # one dropout rate
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        self._model = self.build_model()
        params = self._init_variables(rng, self._model)["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        return param_key == "head"

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None,
                 use_running_average_bn: bool | None = None) -> tuple[Any, None]:
        del model_state, update_batch_norm, use_running_average_bn  # no batch norm
        train = mode == spec.ForwardPassMode.TRAIN
        logits = self._model.apply({"params": params},
                                   augmented_and_preprocessed_input_batch["inputs"], train=train,
                                   dropout_rate=self._dropout(dropout_rate),
                                   rngs={"dropout": rng} if train and rng is not None else {})
        return logits, None
