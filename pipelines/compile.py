"""Compile the pipeline to YAML: ``python -m pipelines.compile [--output FILE]``.

Needs no cloud variables. The component image is ``IMAGE_URI`` when set (read once, through
:func:`tinysign.ops.env.pipeline_image`), else ``Config().image``; ``--image`` overrides both.
``--train-accelerator NVIDIA_TESLA_T4 --train-image <GPU image>`` puts the train step on a GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tinysign.errors import TinysignError

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "training_pipeline.yaml"


def compile_pipeline(
    output: str | Path = DEFAULT_OUTPUT,
    image: str | None = None,
    retries: int = 2,
    train_accelerator: str = "",
    train_gpus: int = 1,
    train_image: str = "",
) -> Path:
    """Write the compiled pipeline spec to ``output`` and return its path (see :func:`build_pipeline`)."""
    from kfp import compiler

    from pipelines.training_pipeline import build_pipeline
    from tinysign.ops.env import pipeline_image

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    pipeline = build_pipeline(
        image or pipeline_image(),
        retries=retries,
        train_accelerator=train_accelerator,
        train_gpus=train_gpus,
        train_image=train_image,
    )
    compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(output))
    return output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m pipelines.compile`` and ``tinysign pipeline compile``."""
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="YAML to write (default %(default)s)")
    parser.add_argument("--image", help="component image (default: $IMAGE_URI, else Config().image)")
    parser.add_argument("--retries", type=int, default=2, help="retries of extract and train (default 2)")
    parser.add_argument(
        "--train-accelerator",
        default="",
        help="accelerator for the train task, e.g. NVIDIA_TESLA_T4 (Vertex) or nvidia.com/gpu",
    )
    parser.add_argument("--train-gpus", type=int, default=1, help="accelerator count for train (default 1)")
    parser.add_argument("--train-image", default="", help="image of the train step only (the GPU image)")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        path = compile_pipeline(
            args.output, args.image, args.retries, args.train_accelerator, args.train_gpus, args.train_image
        )
    except OSError as exc:
        raise TinysignError(f"cannot write {args.output}: {exc.strerror}; choose another --output") from None
    print(f"compiled {path} in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.compile", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except TinysignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
