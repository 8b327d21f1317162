"""``tinysign`` command line: one sub-command per stage.

Each stage module defines ``add_arguments(parser)`` and ``run(args, config) -> int``; this module
only wires them up and adds the shared ``--config FILE`` / ``--set key=value`` options. Whatever goes
wrong ends in one line on stderr with nothing in front of it (the libraries' log lines are filtered
out, see :mod:`tinysign.console`): ``error: ...`` and exit status 1 for a runtime error
(:class:`TinysignError`), exit status 2 for a usage error (argparse, a bad ``--set`` / ``--config``,
a :class:`UsageError`). A reader that goes away (``tinysign predict ... | head``) ends the command
quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import SimpleNamespace
from typing import Any, NoReturn

from tinysign import __version__
from tinysign.arguments import add_config_options
from tinysign.config import Config
from tinysign.console import library_noise_filtered
from tinysign.errors import TinysignError, UsageError, disk_full

EXIT_ERROR = 1  # a runtime error: missing data, corrupt shards, a refused blessing
EXIT_USAGE = 2  # a command line that cannot work: unknown option, bad --set value, unknown config key
# Set before any library is imported: their own switches for their start-up chatter.
QUIET_LIBRARIES = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ INFO and WARNING lines
    "OPENCV_LOG_LEVEL": "ERROR",
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # AV_LOG_QUIET: FFmpeg's decoder complaints (a drop row says it)
}
# (command, module, one-line help) — modules import TensorFlow lazily, so --help stays fast.
COMMANDS = (
    ("data", "tinysign.demo", "generate the synthetic demo dataset (WLASL-processed layout)"),
    ("ingest", "tinysign.ingest", "find, probe, balance and split clips -> manifest + drop report"),
    ("extract", "tinysign.extract", "Beam: decode, FPS-simulate, sample, augment -> TFRecords"),
    ("train", "tinysign.train", "train the streaming model (default) or s3dconv1d on the TFRecords"),
    ("quantize", "tinysign.quantize", "INT8 (PTQ or QAT) + float32 TFLite export"),
    ("evaluate", "tinysign.evaluate", "INT8/float32 TFLite evaluation on the test split"),
    ("mcu", "tinysign.mcu", "run the INT8 model in tflite-micro: arena, flash, ops, C array"),
    ("enroll", "tinysign.enroll", "teach new signs from a few clips: an INT8 nearest-prototype head"),
    ("firmware", "tinysign.firmware", "tflite-micro + CMSIS-NN firmware run on an emulated Cortex-M"),
    ("predict", "tinysign.predict", "signs said as they happen in a video or camera stream (INT8 models)"),
    ("bless", "tinysign.bless", "thresholds + champion/challenger; push blessed models to models/<version>/"),
    ("report", "tinysign.report", "one self-contained HTML report of a run's stage folders"),
    ("runs", "tinysign.ops.runs", "list pipeline runs (local, Vertex AI or KFP) side by side; --compare A B"),
    ("cv", "tinysign.workflows.crossval", "cross-validation by signer (or video): mean ± std with baselines"),
    ("submit", "tinysign.ops.submit", "submit the compiled pipeline as a run to Kubeflow or Vertex AI"),
    ("schedule", "tinysign.ops.schedule", "recurring retraining on KFP / Vertex AI: create, list, pause"),
    # the KFP pipeline sits on top of the package (pipelines/): loaded only by name, here
    ("pipeline", "pipelines.command", "the whole KFP pipeline: run it here (kfp.local) or compile it"),
)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (exit status 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tinysign",
        description="Sign language videos -> TFRecords -> a streaming CNN (or S3DConv1D) -> INT8 TFLite "
        "-> microcontroller.",
    )
    parser.add_argument("--version", action="version", version=f"tinysign {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        module = _command_module(module_name)
        sub = commands.add_parser(
            name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0]
        )
        add_config_options(sub)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run, command_parser=sub)
    return parser


def _command_module(name: str) -> Any:
    """The module of a command; for ``pipelines.*`` outside a checkout (an image or a wheel without the
    pipelines/ package), a stand-in that says so when used, so the other commands still work."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != "pipelines":
            raise

    def unavailable(args: argparse.Namespace, config: Config) -> int:
        raise TinysignError(
            "`tinysign pipeline` needs the pipelines/ package: run it from a tinysign checkout installed "
            "with `make install`"
        )

    return SimpleNamespace(__doc__=None, add_arguments=lambda parser: None, run=unavailable)


def main(argv: list[str] | None = None) -> int:
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    with library_noise_filtered():
        try:
            return _run(argv)
        except BrokenPipeError:  # the reader went away (`| head`): stop without a word, as `cat` does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return EXIT_ERROR


def _run(argv: list[str] | None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # said by the command's parser, so the line names the command and its --help
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        config = Config.load(args.config, args.overrides)
    except TinysignError as exc:  # --set / --config: the command line is wrong
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        status = int(args.handler(args, config) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except UsageError as exc:
        print(f"error: {exc} (see tinysign {args.command} --help)", file=sys.stderr)
        return EXIT_USAGE
    except TinysignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        full = disk_full(exc)  # a full disk is the environment, not a bug: one line too
        if full is None:
            raise
        print(f"error: {full}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
