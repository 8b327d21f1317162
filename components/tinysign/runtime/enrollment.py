"""Few-shot enrollment on the deployment path: clip -> embedding, and how well a prototype head does.

:class:`Embedder` runs a clip through what the device runs — front end -> INT8 frame model per
frame -> ring buffer — in LiteRT; the embedding is the ring buffer averaged over time and
L2-normalised (:mod:`tinysign.model.prototypes`).

:func:`accuracy_vs_k` is the enrollment experiment: enroll each sign from ``k`` of its clips, export
the INT8 head from their prototypes and test it on the rest, over several seeded draws of the ``k``
clips (``tinysign enroll --evaluate``, the pipeline's enroll step, ``make bench-enroll``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysign.errors import TinysignError
from tinysign.model.files import QuantizedModel
from tinysign.model.prototypes import embedding, export_head, prototypes_of
from tinysign.runtime.litert import LiteModel, dequantize, runner_input
from tinysign.runtime.streaming import StreamingClassifier

ENROLL_SHOTS = (1, 3, 5)  # clips per sign for the accuracy-against-k evaluation
ENROLL_DRAWS = 5  # random draws of the k clips per value of k


class Embedder:
    """The deployment path up to the ring buffer: clip -> unit-length embedding (and the raw window)."""

    def __init__(self, quant: QuantizedModel) -> None:
        if quant.kind != "streaming":
            raise TinysignError(
                f"enroll needs the streaming model (frame + head); {quant.kind} has no frame model"
            )
        frame = LiteModel(quant.path("frame", "int8"))
        head = LiteModel(quant.path("head", "int8"))  # only for the ring buffer's shape and dtype
        self.stream = StreamingClassifier(frame, head, quant.front.stream())
        self.qparams = head.input_qparams

    def window(self, clip: np.ndarray) -> np.ndarray:
        """Dequantized ring buffer ``(T, F)`` after streaming ``clip`` ``(T, H, W)``."""
        return dequantize(self.stream.window(clip), self.qparams)

    def embed(self, clip: np.ndarray) -> np.ndarray:
        return embedding(self.window(clip))


def head_accuracy(head: bytes, test: dict[str, list[np.ndarray]], labels: list[str]) -> float:
    """Top-1 accuracy of an INT8 head (LiteRT) on the ring buffers of ``test`` ``{sign: windows}``."""
    lite = LiteModel(head)
    hits = [
        labels[int(np.argmax(lite.invoke(runner_input(lite, w))))] == sign
        for sign, windows in test.items()
        for w in windows
    ]
    return float(np.mean(hits))


def enrollment_draws(sizes: dict[str, int], k: int, draws: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``draws`` random orders of each sign's clips ``{sign: permutation}``; the first ``k`` are enrolled.
    Seeded by ``(seed, k)``, so a baseline can be measured on exactly the same clips."""
    rng = np.random.default_rng([seed, k])
    return [{sign: rng.permutation(n) for sign, n in sizes.items()} for _ in range(draws)]


def accuracy_vs_k(
    quant: QuantizedModel,
    feature_range: tuple[float, float],
    pool: dict[str, list[np.ndarray]],
    ks: tuple[int, ...] = ENROLL_SHOTS,
    draws: int = ENROLL_DRAWS,
    test: dict[str, list[np.ndarray]] | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """INT8 prototype-head accuracy when each sign is enrolled from ``k`` clips drawn from ``pool``.

    Each draw (:func:`enrollment_draws`) enrolls ``k`` clips per sign, exports the INT8 head from their
    prototypes and tests it on ``test`` (default: every clip of ``pool`` not drawn). ``k`` values that
    would leave a sign without a test clip are skipped. Returns ``{k: {mean, std, draws, float32_mean,
    test_clips}}`` (``float32_mean``: the same prototypes through the float32 head)."""
    results: dict[str, dict[str, Any]] = {}
    sizes = {sign: len(windows) for sign, windows in pool.items()}
    for k in ks:
        if min(sizes.values()) < k + (test is None):
            continue
        scores, float_scores, tested = [], [], 0
        for picks in enrollment_draws(sizes, k, draws, seed):
            enrolled = {sign: [pool[sign][i] for i in pick[:k]] for sign, pick in picks.items()}
            held_out = test or {sign: [pool[sign][i] for i in pick[k:]] for sign, pick in picks.items()}
            calibration = [w for ws in enrolled.values() for w in ws]
            head = export_head(prototypes_of(enrolled), calibration, quant.num_frames, feature_range)
            scores.append(head_accuracy(head["int8"], held_out, list(enrolled)))
            float_scores.append(head_accuracy(head["float32"], held_out, list(enrolled)))
            tested = sum(len(ws) for ws in held_out.values())
        results[str(k)] = {
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "draws": scores,
            "float32_mean": float(np.mean(float_scores)),  # the same prototypes, float32 head
            "test_clips": tested,
        }
    return results
