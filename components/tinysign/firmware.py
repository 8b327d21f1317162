"""Firmware on an emulated Cortex-M: the INT8 streaming pair in tflite-micro + CMSIS-NN under QEMU.

``tinysign firmware --quant DIR --mcu DIR --records DIR [--out build/firmware] [--targets m7 m55]``

Builds (out of tree, under ``--out``) the tflite-micro library with CMSIS-NN kernels for each target and
one bare-metal firmware per target (``firmware/``: the models as the C arrays of ``tinysign mcu``, a few
real test clips, an op resolver with exactly the models' ops, the front end and the ring buffer as on a
device), runs it under ``qemu-system-arm`` and checks every int8 output against Python tflite-micro on the
same frames (<= 1 LSB; the first op that differs is named otherwise). Reports the ELF's section sizes
(flash, static RAM), the arena used on target and instructions per frame -> estimated ms/frame at 480 MHz
(M7) and 160 MHz (M55). Needs ``make firmware-deps`` (the Arm toolchain and QEMU) and the tflite-micro
source (``--tflm-source``, default ``../shared/third_party/tflite-micro``), copied once into ``--out``.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.runtime import firmware

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm", "make")
DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / "shared" / "third_party" / "tflite-micro"


def writable_copy(source: Path, destination: Path) -> Path:
    """A writable copy of the tflite-micro tree (its make writes into it); kept for later runs."""
    if not (destination / "tensorflow" / "lite" / "micro").is_dir():
        if not (source / "tensorflow" / "lite" / "micro").is_dir():
            raise TinysignError(f"{source}: not a tflite-micro source tree; pass --tflm-source")
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
        for folder, dirs, files in os.walk(destination):
            for name in [*dirs, *files]:
                path = Path(folder) / name
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o200)
    return destination


def run_firmware(
    quant_dir: str | Path,
    mcu_dir: str | Path,
    records_dir: str | Path,
    out_dir: str | Path = "build/firmware",
    targets: list[str] | None = None,
    tflm_source: str | Path = DEFAULT_SOURCE,
    tflm_build: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Build and run the firmware for ``targets`` (default: all) and compare it with Python tflite-micro.

    ``options`` go to :func:`tinysign.runtime.firmware.run` (``num_clips``, ``dump_frame``,
    ``reset_per_clip``). Returns the report (also ``out_dir/firmware_report.{json,md}``)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise TinysignError(f"{', '.join(missing)} not found: run `make firmware-deps` (apt packages) first")
    out = Path(out_dir)
    tflm_src = writable_copy(Path(tflm_source), out / "tflite-micro")
    return firmware.run(
        quant_dir,
        mcu_dir,
        records_dir,
        out,
        tflm_src,
        targets or list(firmware.TARGETS),
        tflm_build=tflm_build,
        **options,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quant", required=True, metavar="DIR", help="streaming quantize output")
    parser.add_argument("--mcu", required=True, metavar="DIR", help="tinysign mcu output (model_data.cc/.h)")
    parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (test clips)")
    parser.add_argument("--out", default="build/firmware", metavar="DIR", help="build folder (%(default)s)")
    parser.add_argument(
        "--targets", nargs="+", default=list(firmware.TARGETS), choices=list(firmware.TARGETS)
    )
    parser.add_argument("--clips", type=int, default=4, help="test clips played back as the camera")
    parser.add_argument("--tflm-source", default=str(DEFAULT_SOURCE), help="tflite-micro source tree")
    parser.add_argument("--tflm-build", help="TFLM library folder to share between builds (default OUT/tflm)")
    parser.add_argument("--dump-frame", type=int, help="also compare every op's output at this stream frame")
    parser.add_argument("--reset-per-clip", action="store_true", help="reset the stream at every clip")


def run(args: argparse.Namespace, config: Config) -> int:
    del config
    report = run_firmware(
        args.quant,
        args.mcu,
        args.records,
        args.out,
        args.targets,
        args.tflm_source,
        args.tflm_build,
        num_clips=args.clips,
        dump_frame=args.dump_frame,
        reset_per_clip=args.reset_per_clip,
    )
    print(firmware.markdown(report))
    within = all(r["comparison"]["within_tolerance"] for r in report["targets"].values())
    return 0 if within else 1
