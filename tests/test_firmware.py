"""Firmware on emulated Cortex-M boards.

Fast tests: the console protocol (defined once in Python) against a console transcript recorded from the
real firmware under QEMU (``tests/data/firmware_console.txt``), the firmware's recognizer against the Python
one on that transcript, the generated sources, the firmware tables. The slow test trains the default
streaming model briefly and runs ``make firmware`` as a user types it (relative build folder) on the CI
boards: every int8 output and every emission against Python (needs ``make firmware-deps`` and the
tflite-micro source in ``../shared/third_party``, skipped otherwise).

``TINYSIGN_TFLM_BUILD=DIR`` keeps the tflite-micro libraries (4-7 min per core) between runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_models import quantized_model
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.firmware import DEFAULT_SOURCE, run_firmware
from tinysign.mcu import run_mcu_check
from tinysign.model.files import load_quantized
from tinysign.quantize import run_quantize
from tinysign.runtime.boards import BOARDS
from tinysign.runtime.firmware import codegen, protocol
from tinysign.runtime.firmware.build import TOOLS, BuildPaths
from tinysign.runtime.firmware.measure import timing
from tinysign.runtime.firmware.stream import Stream
from tinysign.runtime.recognizer import RecognizerSettings, recognize
from tinysign.train import run_train

REPO = Path(__file__).resolve().parents[1]
TRANSCRIPT = Path(__file__).parent / "data" / "firmware_console.txt"
HAVE_FIRMWARE_TOOLS = all(shutil.which(tool) for tool in TOOLS) and DEFAULT_SOURCE.is_dir()
# CI builds two boards, one per CMSIS-NN kernel family: the M4F (DSP extension: the kernels of M7 and M33 too;
# the smallest part, the tightest frame-rate target) and the M55 (Helium). See the README.
CI_BOARDS = ("m4f", "m55")


def test_missing_tools_is_one_actionable_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no arm-none-eabi-gcc, no qemu-system-arm
    with pytest.raises(TinysignError, match="make firmware-deps"):
        run_firmware(tmp_path / "q", tmp_path / "m", tmp_path / "r", tmp_path / "out")


def test_unknown_board_is_one_line(tmp_path):
    with pytest.raises(TinysignError, match="unknown board.*m3.*choose from m4f, m33, m7, m55"):
        run_firmware(tmp_path / "q", tmp_path / "m", tmp_path / "r", tmp_path / "out", boards=["m3"])


@pytest.mark.skipif(not HAVE_FIRMWARE_TOOLS, reason="needs the Arm toolchain, QEMU and tflite-micro source")
def test_not_a_streaming_model_is_refused(tmp_path_factory, tmp_path):
    s3d = quantized_model(tmp_path_factory, "s3dconv1d")
    with pytest.raises(TinysignError, match="runs the streaming pair"):
        run_firmware(s3d, tmp_path, tmp_path, tmp_path / "out", tflm_build=tmp_path / "tflm")


def test_build_paths_are_absolute_whatever_the_user_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = BuildPaths.resolve("build/firmware", "cache/../tflm")
    assert paths.build_dir == tmp_path / "build" / "firmware" and paths.tflm_build == tmp_path / "tflm"
    assert all(p.is_absolute() for p in (paths.build_dir, paths.tflm_src, paths.tflm_build, paths.gen))


# --- the console protocol, on a transcript recorded from the firmware under QEMU -------------------------


@pytest.fixture(scope="module")
def console() -> protocol.Console:
    return protocol.parse(TRANSCRIPT.read_text())


def test_recorded_transcript_parses_into_every_record(console):
    begin = console.settings["begin"]
    frames, t = int(begin["stream_frames"]), int(begin["num_frames"])
    assert console.settings["end"] == {"status": 0} and not console.errors
    assert sorted(console.features) == list(range(frames))  # one frame-model output per stream frame
    assert sorted(console.head) == list(range(t - 1, frames))  # the head once the ring buffer is full
    assert {len(v) for v in console.features.values()} == {int(begin["feature_dim"])}
    assert {len(v) for v in console.head.values()} == {int(begin["classes"])}
    assert all(
        set(console.ticks[f]) == ({"features", "head"} if f >= t - 1 else {"features"}) for f in console.ticks
    )
    head_out = console.tensors["head_out"]
    assert head_out["dims"] == [1, int(begin["classes"])] and head_out["scale"] == pytest.approx(1 / 256)
    assert console.tensors["frame_in"]["zero_point"] == (0 if begin["frontend"] == "diff" else -128)
    assert 0 < int(console.settings["arena"]["frame_used"]) < int(console.settings["arena"]["used"])
    assert int(console.settings["mem"]["stack_used"]) < int(console.settings["mem"]["stack_size"])


def test_firmware_recognizer_says_what_the_python_recognizer_says(console):
    """The emissions the firmware printed = runtime/recognizer.py on the head outputs it printed."""
    begin, head_out = console.settings["begin"], console.tensors["head_out"]
    settings = RecognizerSettings(
        int(begin["spot_window"]),
        int(begin["spot_threshold"]),
        int(begin["spot_suppression"]),
        silent=(),  # the recorded model (the demo's 8 signs) has no rest / unknown class
        scale=float(head_out["scale"]),
    )
    python = recognize(settings, sorted(console.head.items()), zero_point=int(head_out["zero_point"]))
    assert console.emissions, "the recorded stream should say at least one sign"
    assert [(e.frame, e.label) for e in python] == [(frame, label) for frame, label, _ in console.emissions]
    assert [round(e.score * settings.window / settings.scale) for e in python] == [
        s for *_, s in console.emissions
    ]


def test_instructions_per_frame_from_the_recorded_ticks(console):
    speed = timing(console, clock_hz=80e6)
    calib = console.settings["calib"]
    assert speed["instructions_per_tick"] == pytest.approx(2 * int(calib["iterations"]) / int(calib["ticks"]))
    assert speed["instructions_per_frame_max"] >= speed["instructions_per_frame_mean"] > 0
    assert speed["fps"] == pytest.approx(80e6 / speed["instructions_per_frame_max"])


@pytest.mark.parametrize("tag", sorted(protocol.RECORDS))
def test_every_record_round_trips_through_its_c_format(tag):
    """What the firmware prints with ``TS_FORMAT_<tag>`` (C printf = Python %) parses back to the values."""
    record = protocol.RECORDS[tag]
    samples = {"d": -7, "u": 12, "ld": 123456, "lu": 4000000000, "08lx": 0x3B800000, "s": "frame"}
    values = [samples[conv] for _, conv in record.fields]
    line = record.format % tuple(values) + ("ff7f" if record.payload else "")
    assert f'#define TS_FORMAT_{tag} "{record.format}"' in protocol.header_text()
    parsed = record.values(line.removeprefix(f"TS {tag} "))
    assert [parsed[name] for name, _ in record.fields] == values
    assert parsed.get("payload") == ("ff7f" if record.payload else None)


def test_lines_that_are_not_records_are_the_log():
    console = protocol.parse("TS BEGINNING\nFailed to allocate memory\r\nTS ERROR Setup() failed\r\n")
    assert console.log == ["TS BEGINNING", "Failed to allocate memory"] and console.errors == [
        "Setup() failed"
    ]


# --- generated sources ------------------------------------------------------------------------------


def test_recognizer_header_holds_the_config_in_head_units(tmp_path):
    labels = ["hello", "thanks", "rest", "unknown"]
    config = Config(spot_window=5, spot_threshold=0.5, spot_suppression=12)
    settings = RecognizerSettings.for_head(labels, (1 / 256, -128), config)
    codegen.write_recognizer_config(settings, labels, tmp_path)
    text = (tmp_path / "recognizer_config.h").read_text()
    assert codegen.header_constants(tmp_path / "recognizer_config.h") == {
        "kSpotWindow": 5,
        "kSpotSuppression": 12,
        "kNumSilentLabels": 2,
    }
    assert "kSpotThreshold = 128;" in text and "kSilentLabels[] = {2, 3};" in text and '"unknown"' in text
    with pytest.raises(TinysignError, match="int8 head"):
        codegen.write_recognizer_config(RecognizerSettings.for_head(labels, None, config), labels, tmp_path)


def test_stream_is_any_frames_with_clip_starts(tmp_path):
    frames = np.arange(5 * 8 * 8, dtype=np.uint8).reshape(5, 8, 8)
    stream = Stream(frames, (0, 2), (1, -1), ("a", "b"))
    assert stream.ends == (1, 4) and stream.clip(1).shape == (3, 8, 8)
    codegen.write_stream(stream, tmp_path)
    assert codegen.header_constants(tmp_path / "test_stream.h") == {
        "kStreamFrames": 5,
        "kStreamPixels": 64,
        "kStreamClips": 2,
    }
    assert "g_stream_clip_starts[kStreamClips] = {0, 2};" in (tmp_path / "test_stream.cc").read_text()
    with pytest.raises(TinysignError, match="ascend from 0"):
        Stream(frames, (1, 3), (0, 0), ("a", "b"))


def test_boards_make_comes_from_the_board_table(tmp_path):
    codegen.write_boards_make(tmp_path)
    text = (tmp_path / "boards.mk").read_text()
    assert all(f"{b.name}_QEMU := {' '.join(b.qemu)}" in text for b in BOARDS.values())


# --- the real thing -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_FIRMWARE_TOOLS, reason="needs the Arm toolchain, QEMU and tflite-micro source")
def test_make_firmware_on_emulated_boards(demo_records, tmp_path):
    """``make firmware`` with its relative default build folder, on the streaming model trained briefly on the
    demo: every int8 output and every emission of the recognizer against Python."""
    config = Config(epochs=5, contrast_gain=True)  # every step of the front end, the contrast gain too
    (tmp_path / "records").symlink_to(demo_records)  # the Makefile reads $(out)/records
    run_train(demo_records, tmp_path / "train", config)
    run_quantize(tmp_path / "train", demo_records, tmp_path / "quantize", config)
    run_mcu_check(tmp_path / "quantize", demo_records, tmp_path / "mcu", config)
    params = tmp_path / "params.json"  # a threshold a five-epoch model passes
    params.write_text(json.dumps({"spot_window": 4, "spot_threshold": 0.3, "spot_suppression": 10}))
    build = REPO / "build" / "firmware"  # the Makefile's default, relative to the repository
    (build / "metrics.json").unlink(missing_ok=True)
    make = ["make", "firmware", f"out={tmp_path}", f"targets={' '.join(CI_BOARDS)}", f"params={params}"]
    subprocess.run(make, cwd=REPO, check=True)
    summary = json.loads((build / "metrics.json").read_text())
    quant = load_quantized(tmp_path / "quantize")
    contrast = quant.front.contrast
    assert contrast > 0 and f"{contrast:g}" in (build / "gen" / "frontend_config.h").read_text()
    models_bytes = len(quant.read("frame", "int8")) + len(quant.read("head", "int8"))

    assert list(summary["boards"]) == list(CI_BOARDS)
    stream = summary["stream"]  # the stream records: whole clips, each sign's span inside its clip
    ends = [*stream["starts"][1:], stream["frames"]]
    assert all(a <= s < e <= b for a, b, (s, e) in zip(stream["starts"], ends, stream["spans"], strict=True))
    for board in summary["boards"].values():
        comparison = board["comparison"]
        # every int8 output of CMSIS-NN on the emulated core within 1 LSB of Python tflite-micro
        assert comparison["within_tolerance"], board.get("divergence")
        frames = summary["stream"]["frames"]  # four whole test clips, as a device streams them
        assert comparison["features"]["outputs"] == frames and comparison["head"]["outputs"] == frames - 23
        # the firmware's recognizer said the same signs at the same frames as the Python recognizer
        assert comparison["python_emissions"] and comparison["emissions"] == comparison["python_emissions"]
        assert board["top_matches_project"]
        # the ELF holds exactly the models' bytes; the arena is what the target used, right-sized
        assert board["sizes"]["flash_models"] == models_bytes
        arena = board["arena"]
        assert arena["size"] == board["sizes"]["ram_arena"]
        assert 0 < arena["used"] <= arena["size"] < arena["used"] + 32
        assert all(check["passed"] for check in board["budgets"]), board["budgets"]
    assert summary["boards"]["m4f"]["timing"]["fps"] >= BOARDS["m4f"].fps_target  # >= 15 frames/s at 80 MHz
    report = (build / "firmware_report.md").read_text()  # the measured numbers, rendered by reporting.views
    assert all(
        f"| {b['sizes']['flash']:,} | {b['sizes']['flash_models']:,} |" in report
        for b in summary["boards"].values()
    )
