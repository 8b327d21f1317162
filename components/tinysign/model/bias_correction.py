"""PTQ bias correction of the streaming head: remove the INT8 frame model's mean feature error.

The INT8 frame model's error is mostly systematic (the same per-channel mean on train and test).
:func:`feature_bias` measures it on training clips (INT8 features, as the head gets them on the
device, minus the float model's); :func:`corrected_head` folds it into the head, whose first
temporal conv then expects features shifted by that bias. The float model is unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysign.model.architectures import with_fixed_batch


def feature_bias(int8_features: np.ndarray, float_features: np.ndarray) -> np.ndarray:
    """The mean error per feature channel of ``(k, T, F)`` features: ``(F,)``."""
    return (int8_features - float_features).mean(axis=(0, 1))


def corrected_head(head: Any, bias: np.ndarray) -> Any:
    """A copy of the head whose first temporal conv expects features shifted by ``bias``.

    ``conv(x + bias) = conv(x) + conv(bias)``, and ``conv(bias)`` is a constant per output channel
    (valid padding), so adding it to the following batch norm's moving mean removes it exactly."""
    corrected = with_fixed_batch(head, 1)
    conv, norm = corrected.get_layer("head_conv"), corrected.get_layer("head_bn")
    kernel = conv.get_weights()[0]  # (1, taps, F, filters)
    shift = np.einsum("ykco,c->o", kernel, bias.astype(np.float64))
    gamma, beta, mean, variance = norm.get_weights()
    norm.set_weights([gamma, beta, (mean + shift).astype(mean.dtype), variance])
    return corrected
