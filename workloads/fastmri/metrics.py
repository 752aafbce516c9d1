"""SSIM and L1 loss of fastMRI reconstructions, written once for any array module.

Every function takes ``xp``: ``numpy`` (tests, host checks), ``jax.numpy``
(traced inside the jitted eval) or ``torch`` (on the device, under
``no_grad``). Only operations the three share are used (slicing,
``flip``, ``concatenate``, ``clip``, ``where``, ``mean``), so the eval runs
on the accelerator and sends back two sums per batch instead of the images.

SSIM follows the reference (the fastMRI paper's settings):

* images are de-normalised first (``x * std + mean``), so SSIM is on the
  original intensity scale;
* the data range is the maximum over the example's whole volume
  (``volume_max``), replaced by 1 where it is 0 (padding rows);
* a 7x7 uniform window with symmetric ("reflect" in scipy's naming) edge
  padding, sample covariances (``49 / 48``), K1 = 0.01, K2 = 0.03;
* the SSIM map is averaged after dropping a 3-pixel border, and the result
  clipped to [-1, 1].

This is ``skimage.metrics.structural_similarity(x, y, data_range=volume_max)``
with its defaults, except for the clipping (skimage never clips; the two
agree whenever SSIM lies in [-1, 1], which holds for any real data), the
de-normalisation (done here before the call) and the 0 -> 1 data-range
guard. The tests check the agreement.
"""

from __future__ import annotations

from typing import Any

WIN_SIZE = 7
K1, K2 = 0.01, 0.03


def _concat(xp: Any, parts: list[Any], axis: int) -> Any:
    cat = getattr(xp, "concatenate", None) or xp.cat
    return cat(parts, axis)


def _box_filter(x: Any, axis: int, xp: Any) -> Any:
    """Mean over a ``WIN_SIZE`` window along ``axis`` (1 or 2) of ``(N, H, W)``.

    Symmetric padding repeats the edge sample (d c b a | a b c d), as numpy's
    ``pad(mode="symmetric")`` and scipy's ``uniform_filter(mode="reflect")``.
    The window sum is 7 shifted slices: exact, unlike a cumulative sum.
    """
    r = WIN_SIZE // 2
    n = x.shape[axis]
    if n < WIN_SIZE:
        raise ValueError(f"fastmri SSIM: images must be at least {WIN_SIZE} pixels on each "
                         f"side, got {tuple(x.shape[1:])}.")

    def take(a: Any, start: int, stop: int) -> Any:
        return a[:, start:stop] if axis == 1 else a[:, :, start:stop]

    padded = _concat(xp, [xp.flip(take(x, 0, r), (axis,)), x,
                          xp.flip(take(x, n - r, n), (axis,))], axis)
    total = take(padded, 0, n)
    for k in range(1, WIN_SIZE):
        total = total + take(padded, k, k + n)
    return total / WIN_SIZE


def _filter2d(x: Any, xp: Any) -> Any:
    return _box_filter(_box_filter(x, 1, xp), 2, xp)


def structural_similarity(x: Any, y: Any, data_range: Any, xp: Any) -> Any:
    """Mean SSIM of each image pair in ``(N, H, W)`` batches; ``data_range`` is ``(N,)``.

    Not clipped; see :func:`ssim` for the reference's full per-example metric.
    """
    num_points = WIN_SIZE ** 2
    cov_norm = num_points / (num_points - 1)
    ux, uy = _filter2d(x, xp), _filter2d(y, xp)
    uxx, uyy, uxy = _filter2d(x * x, xp), _filter2d(y * y, xp), _filter2d(x * y, xp)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    dr = data_range[:, None, None]
    c1 = (K1 * dr) ** 2
    c2 = (K2 * dr) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    r = WIN_SIZE // 2
    return s[:, r:-r, r:-r].mean((1, 2))


def ssim(outputs: Any, targets: Any, mean: Any, std: Any, volume_max: Any, xp: Any) -> Any:
    """Per-example SSIM ``(N,)`` of normalised outputs vs targets, as the reference scores it."""
    if outputs.shape != targets.shape or len(outputs.shape) != 3:
        raise ValueError(f"fastmri SSIM: outputs {tuple(outputs.shape)} and targets "
                         f"{tuple(targets.shape)} must both be (N, H, W).")
    m, s = mean[:, None, None], std[:, None, None]
    data_range = xp.where(volume_max == 0, volume_max * 0 + 1, volume_max)
    value = structural_similarity(outputs * s + m, targets * s + m, data_range, xp)
    return xp.clip(value, -1.0, 1.0)


def l1_per_example(outputs: Any, targets: Any, xp: Any) -> Any:
    """Mean absolute error of each example, ``(N,)`` (the workload's loss)."""
    return xp.abs(outputs - targets).mean((1, 2))


def eval_sums(outputs: Any, batch: dict[str, Any], xp: Any) -> dict[str, Any]:
    """``ssim`` and ``loss`` summed over the rows with ``weights > 0``.

    Padding rows are excluded with ``where`` (not a product), so whatever a
    padding row holds can never turn a sum into NaN.
    """
    valid = batch["weights"] > 0
    per_ssim = ssim(outputs, batch["targets"], batch["mean"], batch["std"],
                    batch["volume_max"], xp)
    per_loss = l1_per_example(outputs, batch["targets"], xp)
    zero = xp.zeros_like(per_loss)
    return {"ssim": xp.where(valid, per_ssim, zero).sum(),
            "loss": xp.where(valid, per_loss, zero).sum()}
