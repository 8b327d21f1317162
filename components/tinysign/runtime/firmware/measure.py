"""What the firmware costs: flash and RAM from the ELF's sections, instructions per frame from the console.

**Instructions, not cycles.** QEMU runs with ``-icount shift=0``: virtual time advances one tick per
instruction; the firmware reads SysTick around the front end and each ``Invoke()``, and a calibration loop
of a known instruction count converts ticks to instructions. Frames per second at a board's clock assume one
instruction per cycle (the README's *Why estimated*).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from tinysign.runtime.firmware.protocol import Console
from tinysign.summaries import FirmwareSizes, FirmwareTiming

CALIB_INSTRUCTIONS_PER_ITERATION = 2  # platform_calibrate(): subs + bne
SECTION_GROUPS = {  # flash = text + rodata + data (the load image); static RAM = data + bss + heap + stack
    "text": (".isr_vector", ".text"),
    "rodata": (".rodata", ".ARM.extab", ".ARM.exidx", ".init_array"),
    "data": (".data",),
    "bss": (".bss",),
    "heap": (".heap",),
    "stack": (".stack",),
    "testdata": (".testdata",),  # the test stream: a camera provides the frames on a device
    "scratch": (".scratch",),  # the big arena of the op-dump debug build
}


def section_sizes(elf: Path, cross: str = "arm-none-eabi-") -> FirmwareSizes:
    """``size -A`` of ``elf`` grouped by :data:`SECTION_GROUPS`, and the symbols of the models (flash), the
    tensor arena and the ring buffer (RAM) from ``nm``."""
    text = subprocess.run([f"{cross}size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sections = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+", text, re.M)}
    sizes = {name: sum(sections.get(s, 0) for s in names) for name, names in SECTION_GROUPS.items()}
    symbols = subprocess.run(
        [f"{cross}nm", "-S", "--size-sort", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    sym = {
        m.group(2): int(m.group(1), 16)
        for m in re.finditer(r"^[0-9a-f]+ ([0-9a-f]+) \w (\S+)$", symbols, re.M)
    }
    models = sum(v for k, v in sym.items() if k.endswith("_model_data"))
    flash = sizes["text"] + sizes["rodata"] + sizes["data"]
    return {
        "text": sizes["text"],
        "rodata": sizes["rodata"],
        "data": sizes["data"],
        "bss": sizes["bss"],
        "heap": sizes["heap"],
        "stack": sizes["stack"],
        "testdata": sizes["testdata"],
        "scratch": sizes["scratch"],
        "sections": sections,
        "flash": flash,
        "flash_models": models,
        "flash_runtime": flash - models,
        "static_ram": sizes["data"] + sizes["bss"] + sizes["heap"] + sizes["stack"],
        "ram_arena": sum(v for k, v in sym.items() if "g_arena" in k),
        "ram_ring_buffer": sum(v for k, v in sym.items() if "g_ring" in k),
    }


def timing(console: Console, clock_hz: float) -> FirmwareTiming:
    """Instructions per frame from the SysTick ticks (calibrated against a loop of known length) and the
    frames/s estimate at ``clock_hz`` assuming one instruction per cycle. A frame costs the front end, the
    frame model and (once the ring buffer is full) ring buffer -> head input and the head; the estimate
    uses the worst such steady-state frame."""
    calib = console.settings["calib"]
    per_tick = CALIB_INSTRUCTIONS_PER_ITERATION * int(calib["iterations"]) / int(calib["ticks"])
    ticks = console.ticks.values()
    frame = np.array([sum(t["features"]) for t in ticks], dtype=np.float64) * per_tick
    head = np.array([sum(t["head"]) for t in ticks if "head" in t], dtype=np.float64) * per_tick
    steady = (
        np.array([sum(t["features"]) + sum(t["head"]) for t in ticks if "head" in t], np.float64) * per_tick
    )
    per_frame = float(steady.max()) if steady.size else float(frame.max())
    return {
        "instructions_per_tick": per_tick,
        "frame_model_instructions_mean": float(frame.mean()),
        "head_instructions_mean": float(head.mean()) if head.size else None,
        "instructions_per_frame_mean": float(steady.mean()) if steady.size else float(frame.mean()),
        "instructions_per_frame_max": per_frame,
        "clock_hz": clock_hz,
        "ms_per_frame": 1e3 * per_frame / clock_hz,
        "fps": clock_hz / per_frame,
    }
