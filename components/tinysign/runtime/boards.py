"""The boards tinysign targets: one table, read by ``tinysign mcu`` and ``tinysign firmware`` alike.

A board is a class of microcontroller named by its core: a typical part of that class (its flash, SRAM and
clock), the frame rate it must sustain, and the QEMU machine that emulates the core. ``mcu`` says whether the
model fits each part; ``firmware`` builds for each core, runs under QEMU, measures the whole firmware against
the part and estimates frames per second at the part's clock.

Budgets are not here: what the *model* may take is the config's ``flash_budget_bytes`` (its INT8 bytes) and
``arena_budget_bytes`` (its tensor arena), checked by ``mcu`` on the host and by ``firmware`` on the target;
the *whole firmware* (runtime + models + ring buffer + stack) must fit the part. How each core is compiled
(TFLM architecture, compiler flags, linker script with the emulated memory map) is in ``firmware/Makefile``.
"""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Board:
    """One board: a core, a typical part with that core, and how QEMU runs it.

    Attributes:
        name: short name (``firmware --targets``, the firmware Makefile's ``TARGETS``).
        core: the Arm core.
        part: a typical part of the class (what flash, SRAM and clock refer to).
        clock_hz: the part's typical core clock, for the frames/s estimate.
        flash_bytes: the part's flash (on-chip, or the usual external QSPI flash).
        sram_bytes: the part's SRAM.
        fps_target: the least frame rate the firmware must sustain there (estimated).
        qemu: ``qemu-system-arm`` machine (and CPU) arguments.
        npu: an NPU beside the core (``mcu`` adds a Vela estimate for it), or ``""``.
    """

    name: str
    core: str
    part: str
    clock_hz: float
    flash_bytes: int
    sram_bytes: int
    fps_target: float
    qemu: tuple[str, ...]
    npu: str = ""

    @property
    def machine(self) -> str:
        return self.qemu[self.qemu.index("-M") + 1]


# The cheapest camera boards first (the M4F at 80 MHz and M33 at 150 MHz), then the bigger cores.
BOARDS = {
    board.name: board
    for board in (
        Board(
            "m4f",
            "Cortex-M4F",
            "STM32L4-class (e.g. STM32L476)",
            80e6,
            1 * MB,
            128 * KB,
            15.0,
            ("-M", "mps2-an386", "-cpu", "cortex-m4"),
        ),
        Board(
            "m33",
            "Cortex-M33",
            "RP2350-class (e.g. Raspberry Pi Pico 2, 4 MB QSPI flash)",
            150e6,
            4 * MB,
            520 * KB,
            15.0,
            ("-M", "mps2-an505"),
        ),
        Board(
            "m7",
            "Cortex-M7",
            "STM32H7-class",
            480e6,
            2 * MB,
            512 * KB,
            30.0,
            ("-M", "mps2-an500", "-cpu", "cortex-m7"),
        ),
        Board(
            "m55",
            "Cortex-M55 (Helium)",
            "Corstone-300-class",
            160e6,
            2 * MB,
            512 * KB,
            30.0,
            ("-M", "mps3-an547"),
            npu="Ethos-U55-128",
        ),
    )
}
