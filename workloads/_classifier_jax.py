"""JAX/Flax leaf base for the softmax-classification dev workloads.

digits, mnist and cifar differ only in their Flax module and input shape;
init, the forward pass (with optional batch-norm state), the masked loss and
the eval metrics are written here once, as a mixin the leaf puts before its
family class (no second ``BaseWorkload`` path, so no diamond). Loss masking comes from
:func:`algoperf_ray.workload.metrics.masked_loss_dict`, the same code the PyTorch leaf
uses, so both frameworks define the loss identically.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workload.metrics import masked_loss_dict


class JaxClassifier:
    """JAX leaf code of a classifier family, mixed in before the family class.

    ``class MnistJaxWorkload(JaxClassifier, MnistWorkload)``: the family class
    (a ``BaseWorkload``) brings the data, this mixin the model API. Subclasses
    set ``num_classes``/``output_layer`` and build the Flax module.
    """

    framework = "jax"
    num_classes = 10
    output_layer = ""  # top-level params key of the output layer

    def build_model(self) -> Any:
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.meta.batch_fields["inputs"].shape)

    def abstract_variables(self) -> dict[str, Any]:
        """Shapes and dtypes of all model variables, traced without running init.

        Cheap (no XLA compile of the random initialisers), so tests and
        benchmarks can count parameters of full-size models quickly.
        """
        self._model = self.build_model()
        dummy = jax.ShapeDtypeStruct((1, *self.input_shape), jnp.float32)
        key = jax.ShapeDtypeStruct((2,), jnp.uint32)
        init = functools.partial(self._model.init, train=False)
        return dict(jax.eval_shape(lambda k, x: init({"params": k}, x), key, dummy))

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        """Params (and ``{'batch_stats'}`` model state where the model has BN)."""
        del dropout_rate, aux_dropout_rate  # no dropout in these models
        self._model = self.build_model()
        dummy = jnp.ones((1, *self.input_shape), jnp.float32)
        variables = jax.jit(self._model.init, static_argnames="train")(
            {"params": jnp.asarray(rng)}, dummy, train=False)
        variables = dict(variables)
        params = variables.pop("params")
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        model_state = variables or None
        return sharding_jax.replicate(params), (
            sharding_jax.replicate(model_state) if model_state else None)

    def is_output_params(self, param_key: Any) -> bool:
        return param_key == self.output_layer

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: Any,
                 update_batch_norm: bool, dropout_rate: float | None = None,
                 use_running_average_bn: bool | None = None) -> tuple[Any, Any]:
        """Logits; batch stats are updated (and returned) only if ``update_batch_norm``.

        As in the reference, without ``update_batch_norm`` batch norm uses its
        running averages unless ``use_running_average_bn`` says otherwise.
        """
        del mode, rng, dropout_rate
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        variables = {"params": params, **(model_state or {})}
        running = (not update_batch_norm) if use_running_average_bn is None \
            else use_running_average_bn
        if update_batch_norm and model_state:
            logits, new_state = self._model.apply(
                variables, inputs, train=not running, mutable=["batch_stats"])
            return logits, new_state
        return self._model.apply(variables, inputs, train=not running), model_state

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Masked softmax cross entropy with label smoothing (not synced)."""
        targets = optax.smooth_labels(jax.nn.one_hot(label_batch, logits_batch.shape[-1]),
                                      label_smoothing)
        per_example = -jnp.sum(targets * jax.nn.log_softmax(logits_batch), axis=-1)
        return masked_loss_dict(per_example, mask_batch, jnp)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        weights = batch.get("weights")
        if weights is None:
            weights = jnp.ones(logits.shape[0], jnp.float32)
        correct = (jnp.argmax(logits, axis=-1) == batch["targets"]) * weights
        return {"accuracy": jnp.sum(correct),
                "loss": self.loss_fn(batch["targets"], logits, weights)["summed"]}
