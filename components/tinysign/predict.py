"""Predict like a device: a video or a camera streamed through the INT8 model; signs said as they happen.

``tinysign predict --model QUANT_DIR VIDEO`` (or the ``.tflite`` file(s); labels from ``labels.txt`` beside
them unless ``--labels``). With the streaming pair the video is streamed at the frame rate the model was
trained for (``stream_fps``, recorded by quantize): front end -> frame model per frame -> ring buffer ->
head -> recognizer (:mod:`tinysign.runtime.recognizer`: ``spot_window``, ``spot_threshold``,
``spot_suppression``). Each sign said is printed as it happens — time, sign, its probability averaged over
the recognizer's window — and each stretch between them with what it was (``rest``, an ``unknown`` sign,
or nothing certain). ``--json`` prints one JSON object per sign said instead. ``--camera SOURCE`` does the
same on a live feed (a camera index, an ``rtsp://`` URL or a file) through the same code; Ctrl-C stops it.

A whole-clip model (``s3dconv1d``) or an enrolled prototype head (``tinysign enroll``) has no recognizer:
predict prints the top-k of the clip's sign window (probabilities for a softmax head, similarities for a
prototype head — not probabilities).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinysign.artifacts import LABELS_FILE, METRICS_FILE
from tinysign.config import Config
from tinysign.data.frontend import FrontEnd
from tinysign.errors import TinysignError, UsageError
from tinysign.model.files import load_quantized, read_labels, read_tflite
from tinysign.runtime.litert import LiteModel, dequantize
from tinysign.runtime.recognizer import Recognizer, RecognizerSettings
from tinysign.runtime.streaming import ClipClassifier, StreamingClassifier
from tinysign.summaries import read_summary

PROTOTYPES = "prototypes"  # the method of an enrolled head (scores are similarities)


@dataclass(frozen=True)
class Predictor:
    """INT8 model(s) in LiteRT + labels: whole-clip (one model) or streaming (frame + head)."""

    runners: tuple[LiteModel, ...]
    labels: list[str]
    front: FrontEnd = FrontEnd()
    stream_fps: int = 0  # 0: not recorded (models from before streams): the config's stream_fps
    method: str = "ptq"

    @property
    def streaming(self) -> bool:
        return len(self.runners) == 2

    @property
    def num_frames(self) -> int:
        return int(self.runners[-1].input_shape[1])

    @property
    def img_size(self) -> int:
        """The side of the grey frames the front end takes (the model sees it / ``binning``)."""
        return int(self.runners[0].input_shape[-2]) * self.front.binning

    @property
    def scores(self) -> str:
        return "similarity" if self.method == PROTOTYPES else "probability"

    def classifier(self) -> ClipClassifier:
        return ClipClassifier(self.runners, self.front.stream())


def load_predictor(models: list[str], labels_path: str | None = None) -> Predictor:
    """Open ``.tflite`` file(s) or a quantize folder (its INT8 models)."""
    paths = [Path(m) for m in models]
    if len(paths) == 1 and paths[0].is_dir():
        if not (paths[0] / METRICS_FILE).exists():
            raise TinysignError(f"{paths[0]}: not a quantize output (no {METRICS_FILE}); pass .tflite files")
        quant = load_quantized(paths[0])
        paths = [quant.path(part, "int8") for part in quant.parts]
    for path in paths:
        if not path.is_file():
            raise TinysignError(f"--model {path}: file not found")
    if len(paths) not in (1, 2):
        raise TinysignError(
            f"--model: give one whole-clip model or a frame + head pair, not {len(paths)} files"
        )
    runners = sorted(
        (LiteModel(read_tflite(p)) for p in paths), key=lambda r: -len(r.input_shape)
    )  # frame first
    ranks = [len(r.input_shape) for r in runners]
    if ranks not in ([5], [4, 3]):
        raise TinysignError(
            f"--model: input ranks {ranks} are neither a whole-clip model (5-D input) nor a "
            "frame (4-D) + head (3-D) pair"
        )
    labels = read_labels(labels_path or paths[0].parent / LABELS_FILE)
    classes = int(np.prod(runners[-1].output_shape))
    if classes != len(labels):
        raise TinysignError(f"--labels: {len(labels)} labels but the model has {classes} outputs")
    exported = read_summary(paths[0].parent)  # the quantize folder's record of the front end and rate
    return Predictor(
        tuple(runners),
        labels,
        FrontEnd.of(exported),
        int(exported.get("stream_fps", 0)),
        str(exported.get("method", "ptq")),
    )


# --- streaming: the signs said ----------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """A sign said: when (stream frame, seconds), what, and its score averaged over the window."""

    frame: int
    seconds: float
    sign: str
    score: float


@dataclass(frozen=True)
class Between:
    """A stretch with nothing said (seconds ``[start, end)``) and what the head mostly saw in it."""

    start: float
    end: float
    what: str


def spot(predictor: Predictor, frames: Iterable[np.ndarray], config: Config) -> Iterator[Said | Between]:
    """The signs said in a stream of grey frames at the model's rate, and the stretches between them,
    as they happen."""
    fps = stream_fps(predictor, config)
    classifier = StreamingClassifier(*predictor.runners, predictor.front.stream())
    head = classifier.head.output_qparams
    recognizer = Recognizer(
        RecognizerSettings.for_head(predictor.labels, head, config), head[1] if head else 0
    )
    since, seen, tick = 0, Counter[str](), -1
    for tick, frame in enumerate(frames):
        raw = classifier.push(frame)
        if raw is None:
            continue
        if since == 0 and tick:  # the first head output: the ring buffer has just filled
            yield Between(0.0, tick / fps, "filling the ring buffer")
            since = tick
        seen[predictor.labels[int(np.argmax(raw))]] += 1
        emission = recognizer.push(tick, raw)
        if emission is not None:
            if tick > since:
                yield Between(since / fps, tick / fps, _dominant(seen))
            yield Said(tick, tick / fps, predictor.labels[emission.label], emission.score)
            since, seen = tick + 1, Counter()
    if tick + 1 < predictor.num_frames:
        raise TinysignError(
            f"the stream ended after {tick + 1} frame(s) ({(tick + 1) / fps:.1f} s at {fps} fps), before the "
            f"model's {predictor.num_frames}-frame window ({predictor.num_frames / fps:.1f} s) was full: "
            "nothing can be said; give a longer video"
        )
    if tick + 1 > since:
        yield Between(since / fps, (tick + 1) / fps, _dominant(seen))


def _dominant(seen: Counter[str]) -> str:
    """``rest`` / ``unknown`` when the head mostly said so, else "nothing certain"."""
    if not seen:
        return "nothing certain"
    top, count = seen.most_common(1)[0]
    return top if top in ("rest", "unknown") and count >= sum(seen.values()) / 2 else "nothing certain"


def stream_fps(predictor: Predictor, config: Config) -> int:
    return predictor.stream_fps or config.stream_fps


def spot_video(predictor: Predictor, source: str | int, config: Config) -> Iterator[Said | Between]:
    """:func:`spot` on any OpenCV source (a file, a camera index, an ``rtsp://`` URL)."""
    from tinysign.data.video import VideoError, stream_frames

    if not predictor.streaming:
        raise TinysignError("live spotting needs the streaming frame + head models")
    try:
        yield from spot(
            predictor, stream_frames(source, predictor.img_size, stream_fps(predictor, config)), config
        )
    except VideoError as exc:
        raise TinysignError(f"{source}: {exc}") from None


# --- whole-clip model / prototype head: top-k of the sign's window ----------------------------------


def top_k(scores: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` best-scoring signs, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(labels[i], float(scores[i])) for i in order]


def predict_clip(
    models: list[str], video: str, config: Config, labels: str | None = None, k: int = 5
) -> list[tuple[str, float]]:
    """The top ``k`` signs of a video's sign window with a whole-clip model or a prototype head."""
    predictor = load_predictor(models, labels)
    return top_k(classify_video(predictor, video, config), predictor.labels, k)


def classify_video(predictor: Predictor, video: str, config: Config) -> np.ndarray:
    """Scores of the window a test record of the video would hold (its sign, found by its motion)."""
    from tinysign.data.clips import sign_frames
    from tinysign.data.manifest import Clip
    from tinysign.data.video import VideoError, probe

    try:
        info = probe(video)
        clip = Clip(video, "", video, video, fps=info.fps, frame_count=info.frame_count)
        window = sign_frames(
            clip,
            config.replace(
                num_frames=predictor.num_frames,
                img_size=predictor.img_size,
                stream_fps=stream_fps(predictor, config),
            ),
        )
    except VideoError as exc:
        raise TinysignError(f"{video}: {exc}") from None
    classifier = predictor.classifier()
    return dequantize(classifier.classify(window).reshape(-1), classifier.output_qparams)


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        nargs="+",
        metavar="TFLITE",
        help="INT8 model: a quantize (or enroll) output folder, the streaming frame + head pair, or one "
        "whole-clip .tflite",
    )
    parser.add_argument("--labels", metavar="FILE", help="labels.txt (default: beside the model)")
    parser.add_argument(
        "--top-k", type=_positive, default=5, dest="top_k", help="whole-clip/prototype models: signs shown"
    )
    parser.add_argument("video", nargs="?", help="video file (may also come last after --model's files)")
    parser.add_argument(
        "--camera",
        metavar="SOURCE",
        help="live: a camera index (0), a stream URL (rtsp://...) or a video file, streamed frame by frame "
        "through the streaming pair (Ctrl-C stops)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per sign said, nothing else")


def _positive(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number >= 1")
    return value


def run(args: argparse.Namespace, config: Config) -> int:
    models, source = list(args.model), args.video
    if args.camera is not None:
        if source is not None:
            models.append(source)
        source = int(args.camera) if args.camera.isdigit() else args.camera
    elif source is None:  # `--model a.tflite [b.tflite] video.mp4`: argparse gives --model every path
        if len(models) < 2:
            raise UsageError("predict: give a video file after the model(s)")
        models, source = models[:-1], models[-1]
    predictor = load_predictor(models, args.labels)
    if predictor.streaming and predictor.method != PROTOTYPES:
        return _print_spotting(predictor, source, config, args.json)
    if args.camera is not None:
        raise TinysignError("--camera needs the streaming frame + head models with a softmax head")
    scores = classify_video(predictor, str(source), config)
    print(
        f"{source}: the sign's window ({predictor.num_frames} frames), top {args.top_k} ({predictor.scores})"
    )
    for rank, (sign, score) in enumerate(top_k(scores, predictor.labels, args.top_k), start=1):
        print(f"  {rank}. {sign:<20} {score:.3f}")
    return 0


def _print_spotting(predictor: Predictor, source: str | int, config: Config, as_json: bool) -> int:
    fps = stream_fps(predictor, config)
    if not as_json:
        print(
            f"streaming {source} at {fps} fps (ring buffer {predictor.num_frames} frames = "
            f"{predictor.num_frames / fps:.1f} s); a sign is said when its probability averaged over "
            f"{config.spot_window} frames reaches {config.spot_threshold:.2f}",
            flush=True,
        )
    said: list[str] = []
    end = 0.0
    for event in spot_video(predictor, source, config):
        if isinstance(event, Said):
            said.append(event.sign)
            if as_json:
                row = {"seconds": round(event.seconds, 2), "frame": event.frame, "sign": event.sign}
                print(
                    json.dumps({**row, "probability": round(event.score, 3)}, ensure_ascii=False), flush=True
                )
            else:
                print(f"  {event.seconds:6.1f} s          {event.sign:<20} {event.score:.2f}", flush=True)
        else:
            end = event.end
            if not as_json:
                print(f"  {event.start:6.1f} - {event.end:4.1f} s   ({event.what})", flush=True)
    if not as_json:
        print(f"{source}: {len(said)} sign(s) said in {end:.1f} s" + (f": {', '.join(said)}" if said else ""))
    return 0
