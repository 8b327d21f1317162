"""One place that decides which Keras we use: tf-keras (Keras 2 API).

tensorflow-model-optimization (QAT) and ``MultiWorkerMirroredStrategy`` + ``model.fit`` work only
with tf-keras, so every stage builds, saves and loads models through :func:`keras`.
``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported.
"""

from __future__ import annotations

import os
from types import ModuleType


def keras() -> ModuleType:
    """The tf-keras module (imports TensorFlow on first call)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras

    return tf_keras
