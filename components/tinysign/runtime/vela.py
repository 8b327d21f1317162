"""Ethos-U NPU estimates from Arm's ``vela`` compiler (when ``ethos-u-vela`` is installed)."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

VELA_ACCELERATOR = "ethos-u55-128"


def vela_path() -> str | None:
    """The ``vela`` executable (beside this Python first, then PATH), or ``None``."""
    local = Path(sys.executable).parent / "vela"
    return str(local) if local.exists() else shutil.which("vela")


def vela_estimate(
    model_path: Path, out_dir: Path, accelerator: str = VELA_ACCELERATOR
) -> dict[str, Any] | None:
    """Vela's SRAM, flash and latency estimate for Ethos-U, or ``None`` without ``vela``."""
    exe = vela_path()
    if exe is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [exe, str(model_path), "--accelerator-config", accelerator, "--output-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summaries = sorted(out_dir.glob(f"{model_path.stem}_summary_*.csv"))
    if result.returncode != 0 or not summaries:
        return {"error": (result.stderr or result.stdout).strip()[-300:]}
    with open(summaries[0], newline="") as stream:
        row = next(csv.DictReader(stream))
    npu = re.search(r"NPU operators = (\d+)", result.stdout)
    cpu = re.search(r"CPU operators = (\d+)", result.stdout)
    return {
        "accelerator": accelerator,
        "system_config": row["system_config"],
        "sram_bytes": round(float(row["sram_memory_used"]) * 1024),
        "flash_bytes": round(
            float(row["off_chip_flash_memory_used"]) * 1024 + float(row["on_chip_flash_memory_used"]) * 1024
        ),
        "inference_ms": float(row["inference_time"]) * 1000,
        "cycles": int(float(row["cycles_total"])),
        "clock_hz": float(row["core_clock"]),
        "nn_macs": int(float(row["nn_macs"])),
        "npu_ops": int(npu.group(1)) if npu else None,
        "cpu_ops": int(cpu.group(1)) if cpu else None,
    }
