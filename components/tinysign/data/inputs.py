"""The model input of a batch of records: online augmentation (training), then the device's front end."""

from __future__ import annotations

from typing import Any

from tinysign.config import Config
from tinysign.data.augment import Ranges, augment_batch
from tinysign.data.frontend import front_end_tf


def model_input(config: Config, training: bool) -> Any:
    """The ``tf.data`` transform of a BATCH of records' uint8 frames ``(B, T, H, W)`` to the model
    input ``(B, T, H/b, W/b, 1)``: online augmentation (training, when ``config.augment_online``), then
    the front end. Batched ops do the same per-clip work at about half the CPU of a per-clip map."""
    ranges = Ranges(**config.online_ranges) if training and config.augment_online else None

    def transform(frames: Any) -> Any:
        if ranges is None:
            return front_end_tf(frames, config.front_end, config.binning)
        return front_end_tf(augment_batch(frames, ranges, config.binning), config.front_end, 1)

    return transform
