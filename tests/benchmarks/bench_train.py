"""Train-step speed: time folded into batch vs ``TimeDistributed``, same architecture, one run.

    python tests/benchmarks/bench_train.py [--batch 32] [--steps 5] [--classes 100] [--no-keras3]

Times ``train_on_batch`` on random clips of the default shape (24 x 64 x 64 x 1), steps interleaved
round-robin after warm-up, for (1) s3dconv1d folded with ``BatchReshape`` (what we train), (2) the
same architecture with ``TimeDistributed`` + ``Conv1D`` in tf-keras, (3) the streaming model and
(4) unless ``--no-keras3``, the ``TimeDistributed`` version in Keras 3 (the framework the NOTES
warning is about). Prints seconds/step, steps/s, clips/s and the ratio TimeDistributed / folded
(target: folded >= 4x faster).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from tinysign.config import Config
from tinysign.model.architectures import build_model, build_timedistributed_reference, count_macs
from tinysign.model.backend import keras


def seconds_per_step(
    models: dict[str, object], x: np.ndarray, y: np.ndarray, steps: int, warmup: int = 3
) -> dict[str, float]:
    """Median wall time of ``train_on_batch`` per model, steps interleaved round-robin.

    Every model is warmed up first; then each round times one step of every model in turn, so a
    burst of load from other processes on a shared machine hits all models alike.
    """
    for model in models.values():
        for _ in range(warmup):
            model.train_on_batch(x, y)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(steps):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def keras3_timedistributed(num_classes: int, config: Config) -> Callable[[], object]:
    """The seed's model in Keras 3 (``import keras``), for the NOTES comparison."""
    import keras as keras3

    t, s = config.num_frames, config.img_size
    layers = keras3.layers
    td = layers.TimeDistributed
    inputs = keras3.Input((t, s, s, 1))
    x = td(layers.Conv2D(12, 3, padding="same", activation="relu"))(inputs)
    x = td(layers.MaxPooling2D(2))(x)
    x = td(layers.Conv2D(24, 3, padding="same", activation="relu"))(x)
    x = td(layers.MaxPooling2D(2))(x)
    x = td(layers.Flatten())(x)
    x = layers.Conv1D(48, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras3.Model(inputs, outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--no-keras3", action="store_true", help="skip the Keras 3 TimeDistributed row")
    args = parser.parse_args()

    k = keras()
    k.utils.set_random_seed(0)
    config = Config()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, config.num_frames, config.img_size, config.img_size, 1), dtype=np.float32)
    y = rng.integers(0, args.classes, args.batch)

    candidates = {
        "s3dconv1d folded (tf-keras)": build_model("s3dconv1d", args.classes, config),
        "s3dconv1d TimeDistributed (tf-keras)": build_timedistributed_reference(args.classes, config),
        "streaming folded (tf-keras)": build_model("streaming", args.classes, config),
    }
    if not args.no_keras3:
        candidates["s3dconv1d TimeDistributed (Keras 3)"] = keras3_timedistributed(args.classes, config)
    print(
        f"batch {args.batch} x {config.num_frames}x{config.img_size}x{config.img_size}x1, "
        f"{args.classes} classes, median of {args.steps} interleaved train steps after 3 warm-up steps"
    )
    for model in candidates.values():
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    results = seconds_per_step(candidates, x, y, args.steps)
    for name, model in candidates.items():
        macs = count_macs(model) if "folded" in name else None
        extra = f"  params {model.count_params():,}" + (f"  MACs/clip {macs:,}" if macs else "")
        print(
            f"{name:40s} {results[name]:.3f} s/step  {1 / results[name]:6.2f} steps/s  "
            f"{args.batch / results[name]:7.1f} clips/s{extra}"
        )
    folded = results["s3dconv1d folded (tf-keras)"]
    for name in candidates:
        if "TimeDistributed" in name:
            print(f"ratio {name} / folded: {results[name] / folded:.2f}x")


if __name__ == "__main__":
    main()
