"""Build and run: the tools, every path resolved once (absolute), ``firmware/Makefile``, ``qemu-system-arm``.

Paths are absolute before anything runs: tflite-micro's make changes into its source tree, so a relative
``--out build/firmware`` would put the library under the tflite-micro copy and the link (run from here)
would not find it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tinysign.errors import TinysignError
from tinysign.runtime.boards import Board

FW_DIR = Path(__file__).resolve().parents[4] / "firmware"  # Makefile, src/, linker/ (repository root)
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm", "make")
ELF_NAME = "tinysign_fw.elf"
_CAUSE = re.compile(r"error|overflowed|will not fit|undefined reference|No such file", re.IGNORECASE)


def check_tools() -> None:
    """One actionable line when the Arm toolchain, QEMU or make is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise TinysignError(f"{', '.join(missing)} not found: run `make firmware-deps` (apt packages) first")


@dataclass(frozen=True)
class BuildPaths:
    """Where things are, all absolute: build outputs, generated sources, the writable tflite-micro copy and
    the (slow to build, cacheable) tflite-micro libraries."""

    build_dir: Path
    tflm_src: Path
    tflm_build: Path

    @classmethod
    def resolve(cls, out_dir: str | Path, tflm_build: str | Path | None = None) -> BuildPaths:
        """Paths under ``out_dir`` (``tflm_build`` default ``out_dir/tflm``), resolved against the cwd."""
        build = Path(out_dir).expanduser().resolve()
        tflm = Path(tflm_build).expanduser().resolve() if tflm_build else build / "tflm"
        return cls(build, build / "tflite-micro", tflm)

    @property
    def gen(self) -> Path:
        return self.build_dir / "gen"

    def elf(self, board: str) -> Path:
        return self.build_dir / board / ELF_NAME


def writable_copy(source: str | Path, destination: Path) -> Path:
    """A writable copy of the tflite-micro tree (its make writes into it); kept for later runs."""
    source = Path(source).expanduser().resolve()
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


def make(
    goals: list[str],
    paths: BuildPaths,
    boards: list[str],
    variables: dict[str, object] | None = None,
    timeout: float = 3 * 3600,
) -> float:
    """Run ``firmware/Makefile``; returns the wall-clock seconds. On failure: one line naming the log."""
    args = [
        "make",
        "-f",
        str(FW_DIR / "Makefile"),
        f"BUILD_DIR={paths.build_dir}",
        f"TFLM_SRC={paths.tflm_src}",
        f"TFLM_BUILD_DIR={paths.tflm_build}",
        f"GEN_DIR={paths.gen}",
        f"PYTHON={sys.executable}",
        f"TARGETS={' '.join(boards)}",
        *(f"{k}={v}" for k, v in (variables or {}).items()),
        *goals,
    ]
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        log = paths.build_dir / f"make-{'-'.join(goals)}-{'-'.join(boards)}.log"
        log.write_text(f"{' '.join(args)}\n\n{result.stdout}\n{result.stderr}")
        lines = (result.stderr + result.stdout).strip().splitlines() or ["?"]
        cause = next((line for line in lines if _CAUSE.search(line)), lines[-1])  # not make's own echo
        raise TinysignError(f"make {' '.join(goals)} for {', '.join(boards)} failed: {cause} (log: {log})")
    return time.perf_counter() - start


def run_qemu(elf: Path, board: Board, timeout: float = 600) -> tuple[str, float]:
    """Run ``elf`` under ``qemu-system-arm`` (semihosting, ``-icount shift=0``): ``(console, seconds)``."""
    args = [
        "qemu-system-arm",
        *board.qemu,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0",
        "-kernel",
        str(elf),
    ]
    start = time.perf_counter()
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise TinysignError(f"{elf} did not finish in {timeout} s under QEMU ({board.machine})") from err
    seconds = time.perf_counter() - start
    (elf.parent / "qemu_output.txt").write_text(result.stdout + result.stderr)
    if "TS END status=0" not in result.stdout:
        last = (result.stdout.strip() or result.stderr.strip() or "no output").splitlines()[-1]
        raise TinysignError(
            f"{elf} failed under QEMU {board.machine} (exit {result.returncode}): {last} "
            f"(console: {elf.parent / 'qemu_output.txt'})"
        )
    return result.stdout, seconds


@dataclass(frozen=True)
class Firmware:
    """One board's firmware: build it with an arena size (and options), run it under QEMU."""

    board: Board
    paths: BuildPaths
    reset_per_clip: bool = False
    timeout: float = 600

    def build(self, arena: int | None = None, dump_frame: int | None = None) -> float:
        """Build with ``arena`` bytes (``None``: the generated header's default) and, for ``dump_frame``,
        every op's output printed at that stream frame; returns the seconds."""
        defines = ["-DTS_RESET_PER_CLIP=1"] if self.reset_per_clip else []
        if dump_frame is not None:
            defines.append(f"-DTS_DUMP_FRAME={dump_frame}")
        variables = {"ARENA_BYTES": arena or "", "TS_EXTRA_DEFS": " ".join(defines)}
        return make(["firmware"], self.paths, [self.board.name], variables)

    def build_and_run(
        self, arena: int | None = None, dump_frame: int | None = None
    ) -> tuple[str, float, float]:
        """:meth:`build`, then run under QEMU: ``(console, build seconds, run seconds)``."""
        built = self.build(arena, dump_frame)
        console, ran = run_qemu(self.paths.elf(self.board.name), self.board, self.timeout)
        return console, built, ran
