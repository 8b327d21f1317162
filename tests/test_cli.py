"""The command line as a newcomer meets it: every subcommand, given wrong arguments, answers with one
line — exit status 2 for a usage error, 1 for a runtime error — with no library log line in front of it
and no traceback; a reader that goes away early ends a command quietly."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tinysign.cli import COMMANDS, EXIT_ERROR, EXIT_USAGE, main
from tinysign.ops.env import CloudEnv

# Per subcommand: arguments that parse but fail at run time (an input that is not there), and what the
# one line must say. {missing} is a path that does not exist, {out} a fresh folder.
RUNTIME_ERRORS = {
    "data": (["demo", "--out", "/proc/tinysign-demo"], "choose a writable --out"),
    "ingest": (["{missing}", "--out", "{out}"], "does not exist"),
    "extract": (["--manifest", "{missing}/manifest.jsonl", "--out", "{out}"], "run `tinysign ingest` first"),
    "train": (["--records", "{missing}", "--out", "{out}"], "run `tinysign extract` first"),
    "quantize": (["--model", "{missing}", "--records", "{missing}", "--out", "{out}"], "labels.txt not"),
    "evaluate": (["--quant", "{missing}", "--records", "{missing}", "--out", "{out}"], "tinysign quantize"),
    "mcu": (["--quant", "{missing}", "--records", "{missing}", "--out", "{out}"], "tinysign quantize"),
    "enroll": (["--quant", "{missing}", "--examples", "{missing}", "--out", "{out}"], "tinysign quantize"),
    "firmware": (
        ["--quant", "{missing}", "--mcu", "{missing}", "--records", "{missing}", "--out", "{out}"],
        "tinysign quantize",
    ),
    "predict": (["--model", "{not_a_model}", "{missing}/v.mp4"], "is not a valid .tflite model"),
    "bless": (
        ["--quant", "{missing}", "--eval", "{missing}", "--mcu", "{missing}", "--out", "{out}"],
        "no .tflite files",
    ),
    "report": (["--run", "{missing}", "--out", "{out}/report.html"], "no stage output"),
    "runs": (["--root", "{missing}"], "no local runs yet"),
    "cv": (["--manifest", "{missing}/manifest.jsonl", "--out", "{out}"], "run `tinysign ingest` first"),
    "submit": (["--target", "vertex", "--data", "gs://bucket/videos"], "env.sh"),
    "schedule": (["--target", "kfp", "--cron", "0 3 * * 1", "--data", "gs://b/v"], "env.sh"),
    "pipeline": (["run", "--data", "{missing}", "--out", "{out}"], "not found"),
}


def argv_of(command: str, tmp_path: Path) -> list[str]:
    not_a_model = tmp_path / "labels.txt"
    not_a_model.write_text("hello\nthanks\n")
    places = {"missing": tmp_path / "missing", "out": tmp_path / "out", "not_a_model": not_a_model}
    return [command, *(a.format(**places) for a in RUNTIME_ERRORS[command][0])]


def test_every_command_has_a_wrong_arguments_case():
    assert set(RUNTIME_ERRORS) == {name for name, _, _ in COMMANDS}


@pytest.mark.parametrize("command", [name for name, _, _ in COMMANDS])
def test_usage_errors_exit_2_with_one_line(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as unknown:
        main([command, "--no-such-option"])
    err = capsys.readouterr().err
    assert unknown.value.code == EXIT_USAGE and err.count("\n") == 1, err
    assert err.startswith(f"error: tinysign {command}: ")
    assert err.endswith(f"(see tinysign {command} --help)\n")
    # a config key misspelt: usage (2), with the closest keys
    assert main([*argv_of(command, tmp_path), "--set", "epoch=3"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "error: config: unknown config key 'epoch' (did you mean epochs or qat_epochs?)\n"
    assert main([*argv_of(command, tmp_path), "--set", "epochs=many"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: config: epochs='many' is not a valid")


def test_option_values_and_combinations_are_usage_errors(tmp_path, capsys):
    model = str(tmp_path / "m.tflite")
    with pytest.raises(SystemExit) as top_k:
        main(["predict", "--model", model, "v.mp4", "--top-k", "0"])
    assert top_k.value.code == EXIT_USAGE and "--top-k" in capsys.readouterr().err
    assert main(["predict", "--model", model]) == EXIT_USAGE  # no video
    assert capsys.readouterr().err == (
        "error: predict: give a video file after the model(s) (see tinysign predict --help)\n"
    )


@pytest.mark.slow
def test_runtime_errors_exit_1_with_one_line_and_nothing_before_it(tmp_path):
    """Each in its own process, as a user runs it: library start-up lines (TensorFlow, LiteRT) would
    come before the error line there, not under pytest's capture."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TINYSIGN_LIBRARY_LOGS")}
    for field in dataclasses.fields(CloudEnv):  # a fresh machine: no env.sh
        env.pop(field.name.upper(), None)

    def attempt(command: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        folder = tmp_path / command
        folder.mkdir()
        argv = [sys.executable, "-m", "tinysign.cli", *argv_of(command, folder)]
        return command, subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(attempt, RUNTIME_ERRORS))
    for command, result in results:
        expected = RUNTIME_ERRORS[command][1]
        assert result.returncode == EXIT_ERROR, (command, result.stderr)
        assert result.stderr.startswith("error: "), (command, result.stderr)
        assert result.stderr.count("\n") == 1, (command, result.stderr)
        assert expected in result.stderr, (command, result.stderr)


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """``tinysign ... | head``: the pipe closes before the command writes; no BrokenPipeError traceback."""
    (tmp_path / "pipeline_root" / "run-1").mkdir(parents=True)
    command = subprocess.Popen(
        [sys.executable, "-m", "tinysign.cli", "runs", "--root", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    command.stdout.close()  # like `head` having read all it wanted
    _, err = command.communicate(timeout=120)
    assert command.returncode == EXIT_ERROR and err == b"", err.decode()
