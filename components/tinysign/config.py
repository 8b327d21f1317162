"""The one configuration object for every stage, with the seed's defaults.

A :class:`Config` is immutable. Build it from defaults, a JSON file and ``key=value``
overrides (``Config.load(path, ["epochs=5", "fps_targets=[10,30]"])``); every value is
type-checked at that boundary so a typo fails with one clear line, not deep in a stage.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinysign.errors import TinysignError

MODEL_NAMES = ("s3dconv1d", "streaming")
FRONT_ENDS = ("diff", "raw")  # see data/frontend.py
# augment_noise for every training clip, or each clip's sigma drawn from U(0, augment_noise)
NOISE_DRAWS = ("fixed", "uniform")
BINNINGS = (1, 2, 4)
QUANT_METHODS = ("ptq", "qat")
STRATEGIES = ("default", "mirrored", "multiworker")
LR_SCHEDULES = ("cosine", "constant")
ACTIVATIONS = ("relu", "relu6")
SPLIT_MODES = ("grouped", "video", "signer", "official")
SPLITS = ("train", "val", "test")
# How far an augmentation draw may go (data/augment.py): the keys augment_<name> (online, + noise)
# and augment_copy_<name> (offline copies).
AUGMENT_RANGES = ("time", "rotate", "scale", "shift", "contrast", "brightness")
# Classes a model learns but the recognizer never says (runtime/recognizer.py): no sign, and signs
# outside the vocabulary.
REST_LABEL = "rest"
UNKNOWN_LABEL = "unknown"
SILENT_LABELS = (REST_LABEL, UNKNOWN_LABEL)

# The model's shape and what feeds it (front end + online augmentation): read wherever a model is
# built or fed training clips.
MODEL_KEYS = (
    "img_size",
    "num_frames",
    "feature_dim",
    "frame_filters",
    "head_filters",
    "dropout",
    "activation",
    "activation_noise",
)
INPUT_KEYS = (
    "front_end",
    "binning",
    "augment_online",
    "augment_time",
    "augment_rotate",
    "augment_scale",
    "augment_shift",
    "augment_contrast",
    "augment_brightness",
    "augment_noise",
    "augment_noise_draw",
    "augment_backdrop",
    "augment_coarse",
)
# The config keys each pipeline stage reads. A stage gets only its keys, so changing a parameter
# re-runs only the stages that depend on it (KFP caches the rest); tests/test_config.py checks
# these sets against the attributes the stage modules actually read.
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": (
        "vocabulary",
        "unknown_signs",
        "unknown_share",
        "min_clip_frames",
        "max_frame_size",
        "max_frames",
        "min_per_class",
        "max_per_class",
        "subset",
        "follow_outside_symlinks",
        "split_mode",
        "test_signers",
        "val_signers",
        "train_ratio",
        "val_ratio",
        "test_ratio",
        "seed",
    ),
    "extract": (
        "max_frame_size",
        "max_frames",
        "stream_fps",
        "rest_class",
        "img_size",
        "num_frames",
        "fps_targets",
        "eval_fps",
        "seed",
        "augment_copies",
        "augment_flip",
        "augment_copy_time",
        "augment_copy_rotate",
        "augment_copy_scale",
        "augment_copy_shift",
        "augment_copy_contrast",
        "augment_copy_brightness",
        "num_shards",
        "beam_workers",
    ),
    "train": (
        *MODEL_KEYS,
        *INPUT_KEYS,
        "model",
        "label_smoothing",
        "epochs",
        "batch_size",
        "learning_rate",
        "lr_schedule",
        "warmup_epochs",
        "patience",
        "strategy",
        "seed",
    ),
    "quantize": (
        "quantization",
        "calibration_samples",
        "bias_correction",
        "contrast_gain",
        "qat_epochs",
        "batch_size",
        "learning_rate",
        "seed",
        "label_smoothing",
        # the architecture and the input pipeline: QAT fine-tunes the trained model on the same inputs
        *MODEL_KEYS,
        *INPUT_KEYS,
    ),
    "evaluate": ("spot_window", "spot_threshold", "spot_suppression", "seed"),
    "mcu": ("arena_budget_bytes", "flash_budget_bytes", "eval_fps"),
    "bless": (
        "min_spot_precision",
        "max_false_per_minute",
        "min_int8_accuracy",
        "max_int8_drop",
        "arena_budget_bytes",
        "flash_budget_bytes",
        "image",
    ),
}


@dataclass(frozen=True)
class Config:
    """Parameters of the whole pipeline (seed defaults)."""

    # data / ingest
    img_size: int = 64
    num_frames: int = 24
    fps_targets: tuple[int, ...] = (10, 15, 30, 50)
    eval_fps: int = 30  # the camera rate simulated for val/test clips
    stream_fps: int = 10  # frames a second the device's frame model sees: records are windows of them
    rest_class: bool = True  # learn `rest` (no sign) from the still frames around every clip's sign
    min_per_class: int = 18
    max_per_class: int = 25
    min_clip_frames: int = 8
    # the largest video decoded (read from the container before decoding; over it: too_large drop rows)
    max_frame_size: int = 4096  # pixels on a frame's longer side
    max_frames: int = 18_000  # frames in a file: 10 minutes at 30 fps
    subset: int = 0  # 0 = all glosses; 100/300/1000/2000 = WLASL nslt_<N>.json subset
    follow_outside_symlinks: bool = False  # symlinks leaving a dataset root: outside_root drop rows
    # vocabulary (data/vocabulary.py): signs said, signs learned as `unknown`, the rest left out
    vocabulary: tuple[str, ...] = ()  # empty = every sign not learned as unknown
    unknown_signs: tuple[str, ...] = ()  # empty = unknown_share of the signs (or all outside vocabulary)
    unknown_share: float = 0.2
    split_mode: str = "grouped"  # grouped | video | signer | official (see ingest.split_clips)
    test_signers: tuple[str, ...] = ()  # split_mode=signer: who is held out for test
    val_signers: tuple[str, ...] = ()  # split_mode=signer: who validates (default: grouped from the rest)
    train_ratio: float = 0.7
    val_ratio: float = 0.2
    test_ratio: float = 0.1
    seed: int = 42
    folds: int = 0  # tinysign cv: 0 = leave-one-signer-out (or 5 source-video folds without signers)
    # extract / augment
    augment_copies: int = 0  # offline augmented copies per train clip (online augmentation is the default)
    augment_flip: bool = False  # a flip turns a right-handed sign into a left-handed one
    # the ranges of each offline copy's draw (see data/augment.py)
    augment_copy_time: float = 0.1  # fraction of the length trimmed at each end
    augment_copy_rotate: float = 8.0  # degrees
    augment_copy_scale: float = 0.1  # 1 ± scale
    augment_copy_shift: float = 0.06  # fraction of the side
    augment_copy_contrast: float = 0.2  # 1 ± contrast, around mid-grey
    augment_copy_brightness: float = 20.0  # grey levels
    num_shards: int = 2
    beam_workers: int = 1  # local extraction: 1 = in-process; N > 1 = DirectRunner with N worker processes
    # model input: the front end a device computes per frame (see data/frontend.py)
    front_end: str = "diff"  # diff = frame difference (motion), raw = grey pixels (the seed's input)
    binning: int = 2  # b x b block sums before the front end: 64x64 records -> 32x32 model input
    # online augmentation of training clips, fresh every epoch (see data/augment.py)
    augment_online: bool = True
    augment_time: float = 0.15
    augment_rotate: float = 8.0
    augment_scale: float = 0.1
    augment_shift: float = 0.08
    augment_contrast: float = 0.2
    augment_brightness: float = 15.0
    # camera noise, grey levels per pixel; uniform: each clip's sigma is drawn from U(0, augment_noise), so
    # the model sees clean and noisy cameras alike (fixed: every clip's is augment_noise; docs/accuracy.md)
    augment_noise: float = 6.0
    augment_noise_draw: str = "uniform"
    # share of training clips whose plain wall is replaced by a random cluttered texture (data/augment.py)
    augment_backdrop: float = 0.0
    # share of training clips seen through a coarser camera (up to 2x fewer pixels a side; data/augment.py)
    augment_coarse: float = 0.0
    # train
    model: str = "streaming"  # streaming (the MCU model) | s3dconv1d (the faithful S3D model)
    epochs: int = 40
    label_smoothing: float = 0.1  # targets 1 - s + s/C and s/C: a calibrated score for the recognizer
    batch_size: int = 32
    learning_rate: float = 3e-3  # peak learning rate (after warm-up)
    lr_schedule: str = "cosine"  # cosine = linear warm-up then cosine decay to 0; constant
    warmup_epochs: int = 5
    patience: int = 0  # 0 = train every epoch of the schedule, keep the last weights; N = early stopping
    strategy: str = "default"
    # streaming model: per-frame CNN (stride-2 convs + BN + ReLU -> GAP [-> dense feature_dim]) and a
    # temporal head (conv over 3 frames -> GAP -> dropout -> softmax) over the ring buffer
    frame_filters: tuple[int, ...] = (16, 32, 32)
    feature_dim: int = 0  # 0 = the pooled last conv (frame_filters[-1] values per frame)
    head_filters: int = 48
    dropout: float = 0.0  # before the softmax; 0.3 lost 5 pp of val INT8 accuracy (docs/accuracy.md)
    activation: str = "relu6"  # relu6 | relu (conv blocks of the streaming model); relu6 bounds int8 ranges
    activation_noise: float = 0.02  # training-only Gaussian noise after each activation (int8 robustness)
    # quantize / MCU
    quantization: str = "ptq"
    calibration_samples: int = 100
    bias_correction: bool = True  # streaming: remove the INT8 frame model's mean feature error in the head
    # diff front end on the device: scale each frame's difference to the calibration (training) frames'
    # contrast, so a darker, brighter or flatter camera reads as the training one (data/frontend.py).
    # Off by default: live spotting's validation streams lose recall with it (docs/accuracy.md); for a
    # camera known to film darker or flatter than the training one
    contrast_gain: bool = False
    qat_epochs: int = 3
    arena_budget_bytes: int = 16 * 1024
    flash_budget_bytes: int = 200 * 1024
    # blessing
    min_spot_precision: float = 0.85  # of the signs said on the test streams (live spotting)
    max_false_per_minute: float = 1.0  # signs said per minute of the signer at rest
    min_int8_accuracy: float = 0.5
    max_int8_drop: float = 0.05
    # live spotting: the recognizer after the head (runtime/recognizer.py), in stream frames
    # what bench-spotting's rule picks on every fold's validation streams pooled
    spot_window: int = 3  # frames whose head scores are averaged
    spot_threshold: float = 0.85  # the least average probability of the top class to say it
    spot_suppression: int = 10  # frames after a sign during which nothing else is said
    # runtime
    image: str = "tinysign:0.1.0"

    def __post_init__(self) -> None:
        _require(self.img_size >= 8, "img_size must be >= 8")
        _require(
            self.max_frame_size >= 1 and self.max_frames >= 1, "max_frame_size and max_frames must be >= 1"
        )
        _require(self.num_frames >= 3, "num_frames must be >= 3")
        _require(
            len(self.fps_targets) > 0 and min(self.fps_targets) > 0,
            "fps_targets must be a non-empty list of positive frame rates",
        )
        _require(self.eval_fps > 0 and self.stream_fps > 0, "eval_fps and stream_fps must be positive")
        _require(1 <= self.min_per_class <= self.max_per_class, "need 1 <= min_per_class <= max_per_class")
        ratios = (self.train_ratio, self.val_ratio, self.test_ratio)
        _require(
            all(r >= 0 for r in ratios) and abs(sum(ratios) - 1.0) < 1e-6,
            "train_ratio + val_ratio + test_ratio must be 1 and none negative",
        )
        _require(0 <= self.unknown_share < 1, "unknown_share must be in [0, 1)")
        _require(self.split_mode in SPLIT_MODES, f"split_mode must be one of {SPLIT_MODES}")
        _require(self.model in MODEL_NAMES, f"model must be one of {MODEL_NAMES}")
        _require(self.quantization in QUANT_METHODS, f"quantization must be one of {QUANT_METHODS}")
        _require(self.strategy in STRATEGIES, f"strategy must be one of {STRATEGIES}")
        _require(self.augment_copies >= 0, "augment_copies must be >= 0")
        _require(self.num_shards >= 1, "num_shards must be >= 1")
        _require(self.beam_workers >= 1, "beam_workers must be >= 1")
        _require(self.front_end in FRONT_ENDS, f"front_end must be one of {FRONT_ENDS}")
        _require(self.augment_noise_draw in NOISE_DRAWS, f"augment_noise_draw must be one of {NOISE_DRAWS}")
        _require(
            0 <= self.augment_backdrop <= 1 and 0 <= self.augment_coarse <= 1,
            "augment_backdrop and augment_coarse must be in [0, 1]",
        )
        _require(
            self.binning in BINNINGS and self.img_size % self.binning == 0,
            f"binning must be one of {BINNINGS} and divide img_size",
        )
        _require(self.epochs >= 1 and self.batch_size >= 1, "epochs and batch_size must be >= 1")
        _require(self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}")
        _require(
            self.activation_noise >= 0 and 0 <= self.dropout < 1,
            "need activation_noise >= 0, 0 <= dropout < 1",
        )
        _require(self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}")
        _require(0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)")
        _require(self.warmup_epochs >= 0 and self.patience >= 0, "warmup_epochs and patience must be >= 0")
        _require(
            self.spot_window >= 1 and self.spot_suppression >= 0 and 0 < self.spot_threshold <= 1,
            "need spot_window >= 1, spot_suppression >= 0 and 0 < spot_threshold <= 1",
        )

    @property
    def split_ratios(self) -> dict[str, float]:
        return {"train": self.train_ratio, "val": self.val_ratio, "test": self.test_ratio}

    @property
    def online_ranges(self) -> dict[str, float | str]:
        """The ranges of the online augmentation: ``augment_<name>``, ``AUGMENT_RANGES`` + noise (and how
        its sigma is drawn) + the shares of cluttered backdrops and coarser cameras."""
        online = (*AUGMENT_RANGES, "noise", "noise_draw", "backdrop", "coarse")
        return {name: getattr(self, f"augment_{name}") for name in online}

    @property
    def copy_ranges(self) -> dict[str, float]:
        """The ranges of an offline augmented copy: ``augment_copy_<name>`` for each of ``AUGMENT_RANGES``."""
        return {name: getattr(self, f"augment_copy_{name}") for name in AUGMENT_RANGES}

    def replace(self, **changes: object) -> Config:
        """A copy with ``changes`` applied (values are coerced and validated)."""
        return Config.from_dict({**self.to_dict(), **changes})

    def for_stage(self, stage: str) -> dict[str, object]:
        """Only the keys ``stage`` reads (see ``STAGE_KEYS``); ``from_dict`` fills in the rest."""
        return {key: value for key, value in self.to_dict().items() if key in STAGE_KEYS[stage]}

    def to_dict(self) -> dict[str, object]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Config:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        _require(not unknown, "; ".join(_unknown_key(key, known) for key in unknown))
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
        """Defaults <- JSON file at ``path`` <- ``key=value`` overrides."""
        values: dict[str, object] = {}
        if path:
            values.update(_read_json_object(Path(path)))
        for item in overrides or []:
            key, sep, raw = item.partition("=")
            _require(bool(sep and key), f"override {item!r} is not key=value")
            values[key.strip()] = raw
        return cls.from_dict(values)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise TinysignError(f"config: {message}")


def _unknown_key(key: str, known: typing.Iterable[str]) -> str:
    """``unknown config key 'epoch' (did you mean epochs?)``: the closest keys by spelling."""
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "see the fields of tinysign.config.Config"
    return f"unknown config key {key!r} ({hint})"


def _read_json_object(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TinysignError(f"config: {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise TinysignError(f"config: {path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    _require(isinstance(data, dict), f"{path} must hold a JSON object of config keys")
    return data


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _coerce(key: str, value: object, hint: object) -> object:
    """``value`` (a command-line string or a JSON value) as the field's type: text parsed as JSON, one
    value or a comma-separated string of names made a list, then pydantic's (lax) conversion."""
    names = hint == tuple[str, ...]  # test_signers=s3,s4
    if isinstance(value, str) and hint not in (str, bool):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            if not names:
                raise TinysignError(f"config: {key}={value!r} is not a valid value") from None
            value = value.split(",")
    if typing.get_origin(hint) is tuple and not isinstance(value, list | tuple):
        value = [value]  # one value: fps_targets=30, test_signers=9
    if names:
        value = [str(v).strip() for v in value if str(v).strip()]  # type: ignore[attr-defined]
    try:  # a bool is no number here (pydantic would take true as 1)
        return _adapter(hint).validate_python(
            str(value) if isinstance(value, bool) and hint is not bool else value
        )
    except ValueError:  # pydantic.ValidationError
        raise TinysignError(
            f"config: {key}={value!r} is not a valid {getattr(hint, '__name__', hint)}"
        ) from None


@functools.cache
def _adapter(hint: object) -> Any:
    """A pydantic ``TypeAdapter`` for one field type (numbers become text where text is wanted: ids)."""
    from pydantic import ConfigDict, TypeAdapter

    return TypeAdapter(hint, config=ConfigDict(coerce_numbers_to_str=True))
