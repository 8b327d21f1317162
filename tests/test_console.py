"""What the terminal shows: progress with done/total and time left (a bar on a terminal, plain lines in
a log, never a ``\\r`` there), and stderr without the libraries' log lines."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from tinysign.console import Progress, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_with_done_total_and_time_left():
    log = io.StringIO()
    with Progress("extract", 4, "clips", stream=log, every=0) as shown:
        for _ in range(4):
            shown.update()
        shown.note("a line of its own")
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert re.fullmatch(r"extract: 1/4 clips \(25 %\), 00:00 elapsed, ~00:00 left", lines[0]), lines[0]
    assert lines[3].startswith("extract: 4/4 clips (100 %)")
    assert lines[4].startswith("a line of its own | extract: 4/4 clips")
    assert re.fullmatch(r"extract: 4/4 clips in \d+\.\d s", lines[-1]), lines[-1]


def test_a_log_is_not_flooded():
    log = io.StringIO()
    with Progress("train", 1000, "steps", stream=log, every=60) as shown:
        for _ in range(1000):
            shown.update()
    assert log.getvalue().count("\n") == 1  # only the last line: nothing came due within a minute


def test_a_terminal_gets_a_bar_that_leaves_nothing_behind():
    terminal = Terminal()
    list(progress(range(3), "evaluate", "test clips", stream=terminal))
    text = terminal.getvalue()
    assert "\r" in text and "evaluate:" in text and "0/3 test clips" in text
    assert "in 0." not in text  # no closing line on a terminal: the bar is removed


def test_quiet_and_resumed_progress():
    log = io.StringIO()
    with Progress("ingest", 10, "clips", stream=log, enabled=False) as shown:
        shown.update(10)
    assert log.getvalue() == ""
    resumed = Progress("train", 100, "steps", stream=io.StringIO(), initial=60)
    resumed.advance_to(80)
    assert "80/100 steps (80 %)" in resumed.meter()


def test_library_log_lines_never_reach_stderr_but_the_rest_does():
    """A child process writes library-style lines to file descriptor 2 itself, as C++ libraries do."""
    child = r"""
import os, sys
from tinysign.console import library_noise_filtered
with library_noise_filtered():
    for line in (
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1796620535.397177    4135 port.cc:153] oneDNN custom operations are on.\n",
        b"E0000 00:00:1796620376.242617   29742 cuda_platform.cc:52] failed call to cuInit\n",
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
        b"[h264 @ 0x55d0c0a1b2c0] error while decoding MB 3 4\n",
        b"a line of a child process's traceback\n",
    ):
        os.write(2, line)
    print("error: one line", file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert sorted(result.stderr.splitlines()) == ["a line of a child process's traceback", "error: one line"]
