"""imagenet_resnet in JAX/Flax: the four ResNet-50 workloads (variant from metadata).

Params are the Flax ``params`` dict and the model state is
``{'batch_stats': ...}``, both replicated. ``model_fn`` with
``update_batch_norm=True`` normalises with batch statistics and returns
updated running statistics; otherwise running statistics are used and the
state passes through, unless ``use_running_average_bn=False`` asks for
batch statistics without an update (the reference's hook for submissions).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.imagenet_resnet.models_jax import ResNet
from algoperf_ray.workloads.imagenet_resnet.workload import ImagenetWorkload

MODEL_OPTIONS = ("activation", "bn_init_scale", "num_filters", "stage_sizes", "image_size")


def softmax_cross_entropy(labels: Any, logits: Any, label_smoothing: float) -> Any:
    """Per-example cross entropy; ``labels`` are class ids or soft (mixup) targets."""
    if labels.ndim == logits.ndim:
        targets = labels.astype(logits.dtype)
    else:
        targets = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    targets = optax.smooth_labels(targets, label_smoothing)
    return -jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1)


class ImagenetJaxMixin:
    """JAX loss pieces shared by the ResNet and ViT leaves."""

    framework = "jax"

    def _xp(self) -> Any:
        return jnp

    def _per_example_loss(self, labels: Any, logits: Any, label_smoothing: float) -> Any:
        return softmax_cross_entropy(labels, logits, label_smoothing)

    def _init_variables(self, rng: Any, model: Any) -> dict[str, Any]:
        dummy = jnp.ones((1, *self.input_shape), jnp.float32)
        params_rng, dropout_rng = jax.random.split(jnp.asarray(rng))
        variables = jax.jit(model.init, static_argnames="train")(
            {"params": params_rng, "dropout": dropout_rng}, dummy, train=False)
        return dict(variables)


class ImagenetResNetJaxWorkload(ImagenetJaxMixin, ImagenetWorkload):
    MODEL_OPTIONS = MODEL_OPTIONS

    def build_model(self) -> ResNet:
        cfg = self.model_config
        return ResNet(stage_sizes=tuple(cfg["stage_sizes"]), num_classes=self.num_classes,
                      num_filters=int(cfg["num_filters"]), activation=cfg["activation"],
                      bn_init_scale=float(cfg["bn_init_scale"]))

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        del dropout_rate, aux_dropout_rate  # the ResNet has no dropout
        self._model = self.build_model()
        variables = self._init_variables(rng, self._model)
        params = variables.pop("params")
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), sharding_jax.replicate(variables)

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        return param_key == "Dense_0"

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None,
                 use_running_average_bn: bool | None = None) -> tuple[Any, Any]:
        del mode, rng, dropout_rate  # BN mode comes from update_batch_norm, as in the reference
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        variables = {"params": params, **model_state}
        running = (not update_batch_norm) if use_running_average_bn is None \
            else use_running_average_bn
        if running:
            return self._model.apply(variables, inputs, train=False), model_state
        # Batch statistics: Flax writes new running averages, kept only if asked.
        logits, new_state = self._model.apply(variables, inputs, train=True,
                                              mutable=["batch_stats"])
        return logits, (dict(new_state) if update_batch_norm else model_state)
