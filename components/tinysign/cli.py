"""``tinysign`` command line: one sub-command per stage.

Each stage module defines ``add_arguments(parser)`` and ``run(args, config) -> int``; this module
only wires them up, adds the shared ``--config FILE`` / ``--set key=value`` options and turns a
:class:`TinysignError` into one line on stderr and exit status 1 instead of a traceback (exit status 2
is argparse's, for usage errors).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tinysign import __version__
from tinysign.config import Config
from tinysign.errors import TinysignError

EXIT_ERROR = 1  # a runtime error (missing data, corrupt shards, a refused blessing); 2 = usage (argparse)
# (command, module, one-line help) — modules import TensorFlow lazily, so --help stays fast.
COMMANDS = (
    ("data", "tinysign.demo", "generate the synthetic demo dataset (WLASL-processed layout)"),
    ("ingest", "tinysign.ingest", "find, probe, balance and split clips -> manifest + drop report"),
    ("extract", "tinysign.extract", "Beam: decode, FPS-simulate, sample, augment -> TFRecords"),
    ("train", "tinysign.train", "train s3dconv1d or streaming on the TFRecords"),
    ("quantize", "tinysign.quantize", "INT8 (PTQ or QAT) + float32 TFLite export"),
    ("evaluate", "tinysign.evaluate", "INT8/float32 TFLite evaluation on the test split"),
    ("mcu", "tinysign.mcu", "run the INT8 model in tflite-micro: arena, flash, ops, C array"),
    ("enroll", "tinysign.enroll", "teach new signs from a few clips: an INT8 nearest-prototype head"),
    ("firmware", "tinysign.firmware", "tflite-micro + CMSIS-NN firmware run on an emulated Cortex-M"),
    ("predict", "tinysign.predict", "top-k glosses for a video with the INT8 model(s)"),
    ("bless", "tinysign.bless", "thresholds + champion/challenger; push blessed models to models/<version>/"),
    ("report", "tinysign.report", "one self-contained HTML report of a run's stage folders"),
    ("runs", "tinysign.ops.runs", "list pipeline runs (local, Vertex AI or KFP) side by side; --compare A B"),
    ("cv", "tinysign.workflows.crossval", "cross-validation by signer (or video): mean ± std with baselines"),
    ("submit", "tinysign.ops.submit", "submit the compiled pipeline as a run to Kubeflow or Vertex AI"),
    ("schedule", "tinysign.ops.schedule", "recurring retraining on KFP / Vertex AI: create, list, pause"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinysign", description="Sign language videos -> TFRecords -> S3DConv1D -> INT8 TFLite -> MCU."
    )
    parser.add_argument("--version", action="version", version=f"tinysign {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0]
        )
        sub.add_argument("--config", metavar="FILE", help="JSON file of config keys (see config.py)")
        sub.add_argument(
            "--set",
            metavar="KEY=VALUE",
            action="append",
            default=[],
            dest="overrides",
            help="override one config key, e.g. --set epochs=5 (repeatable)",
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
    args = build_parser().parse_args(argv)
    try:
        config = Config.load(args.config, args.overrides)
        return int(args.handler(args, config) or 0)
    except TinysignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
