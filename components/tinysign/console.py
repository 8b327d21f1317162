"""What a person sees on the terminal: progress they can trust, and errors with nothing in front.

:class:`Progress` shows done/total and the time left: a tqdm bar when stderr is a terminal, a plain
line every few seconds when it is not (a KFP or CI log, ``2> file``), so a redirected log never
holds ``\\r`` bars. :func:`library_noise_filtered` keeps the C/C++ libraries' start-up chatter
(TensorFlow's absl lines, LiteRT's XNNPACK line, FFmpeg and OpenCV warnings) off stderr, so that a
failing command's one ``error:`` line is not buried under it; ``TINYSIGN_LIBRARY_LOGS=1`` lets
everything through for debugging.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")
EVERY_SECONDS = 10.0  # a plain progress line at most this often when stderr is not a terminal
PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f} %), {elapsed} elapsed, ~{remaining} left"
PLAIN_FORMAT_OPEN = "{desc}: {n_fmt} {unit}, {elapsed} elapsed"  # no known total
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]"
BAR_FORMAT_OPEN = "{desc}: {n_fmt} {unit} [{elapsed}]"
# Lines the libraries write straight to file descriptor 2, whatever Python's logging says.
LIBRARY_NOISE = re.compile(
    rb"^(?:"
    rb"[IWE]\d{4} [\d:.]+ +\d+ [\w.+-]+:\d+\] "  # absl / glog (TensorFlow, XLA, LiteRT)
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|INFO: "  # TFLite's minimal logging: 'Created TensorFlow Lite XNNPACK delegate for CPU.'
    rb"|\[[\w.-]+ @ 0x[0-9a-f]+\] "  # FFmpeg's av_log: '[h264 @ 0x55d...] error while decoding'
    rb"|\[ ?(?:WARN|INFO|DEBUG):\d+@[\d.]+\] "  # OpenCV's own log
    rb")"
)


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Done/total with the time left, for one long step of a stage.

    On a terminal a tqdm bar; otherwise a plain line at most every ``every`` seconds and one at the end.
    :meth:`note` prints a line of its own (an epoch's losses) without breaking the bar.

    Args:
        what: what is being done, e.g. ``"extract"`` (the line's prefix).
        total: how many units in all (``None``: unknown, no time left shown).
        unit: the unit counted, e.g. ``"clips"``.
        enabled: ``False`` prints nothing (``--quiet``).
        every: seconds between plain lines.
        stream: where to write (default stderr).
        initial: units already done before this run (a resumed training): the time left is estimated
            from this run's pace.
    """

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str,
        *,
        enabled: bool = True,
        every: float = EVERY_SECONDS,
        stream: IO[str] | None = None,
        initial: int = 0,
    ) -> None:
        from tqdm import tqdm

        self.what, self.total, self.unit, self.enabled, self.every = what, total, unit, enabled, every
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.initial = initial
        self.started = self.last_line = time.monotonic()
        self.bar = (
            tqdm(
                total=total,
                desc=what,
                unit=unit,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                initial=initial,
                bar_format=BAR_FORMAT if total else BAR_FORMAT_OPEN,
            )
            if enabled and is_terminal(self.stream)
            else None
        )

    def update(self, count: int = 1) -> None:
        """``count`` more units done."""
        self.advance_to(self.done + count)

    def advance_to(self, done: int) -> None:
        """``done`` units done in all (for counts read from elsewhere, e.g. files written by workers)."""
        if done <= self.done:
            return
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done
        if self.bar is None and self.enabled and time.monotonic() - self.last_line >= self.every:
            self._line(self.meter())

    def step(self, text: str) -> None:
        """One unit done, said: ``text`` on a line of its own (see :meth:`note`)."""
        self.update()
        self.note(f"{self.what}: {text} done")

    def note(self, text: str) -> None:
        """A line of its own, with the overall progress after it on a plain log."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self._line(f"{text} | {self.meter()}")

    def meter(self) -> str:
        """``what: done/total unit (p %), elapsed, ~left`` as plain text."""
        from tqdm import tqdm

        elapsed = time.monotonic() - self.started
        return tqdm.format_meter(
            self.done,
            self.total,
            elapsed,
            bar_format=PLAIN_FORMAT if self.total else PLAIN_FORMAT_OPEN,
            prefix=self.what,
            unit=self.unit,
            rate=(self.done - self.initial) / elapsed if elapsed > 0 and self.done > self.initial else None,
        )

    def close(self) -> None:
        """Remove the bar; on a plain log, the last line (what was done in how long)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled:
            seconds = time.monotonic() - self.started
            total = f"/{self.total}" if self.total else ""
            self._line(f"{self.what}: {self.done}{total} {self.unit} in {_duration(seconds)}")
        self.enabled = False

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self.last_line = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(
    items: Iterable[T], what: str, unit: str, total: int | None = None, **options: Any
) -> Iterator[T]:
    """``items`` with a :class:`Progress` over them (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(what, total, unit, **options) as shown:
        for item in items:
            yield item
            shown.update()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


# --- library noise on stderr --------------------------------------------------------------------------


@contextlib.contextmanager
def library_noise_filtered() -> Iterator[None]:
    """While the block runs, drop :data:`LIBRARY_NOISE` lines from file descriptor 2.

    The C/C++ libraries write to fd 2 directly; it becomes a pipe read by a thread that forwards
    every other line (tracebacks of child processes included) to the real stderr. Python's own
    ``sys.stderr`` (progress bars, the ``error:`` line) writes to the real stderr directly, unfiltered.
    Does nothing when ``TINYSIGN_LIBRARY_LOGS=1`` or when ``sys.stderr`` is not the process's own
    (under pytest's capture, say).
    """
    if os.environ.get("TINYSIGN_LIBRARY_LOGS") == "1" or sys.stderr is not sys.__stderr__:
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield
        return
    python_stderr = sys.stderr
    sys.stderr = open(  # noqa: SIM115 - closed below
        os.dup(real), "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace"
    )
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, real), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last write end in this process closes: the forwarder ends
        forwarder.join(timeout=2)
        sys.stderr.close()
        sys.stderr = python_stderr
        os.close(real)


def _forward(read_end: int, real: int) -> None:
    """Copy lines from ``read_end`` to ``real``, dropping library noise."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not LIBRARY_NOISE.match(line))
            if kept:
                os.write(real, kept)
    if pending and not LIBRARY_NOISE.match(pending):
        os.write(real, pending)
