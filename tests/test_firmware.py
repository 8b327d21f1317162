"""Firmware on an emulated Cortex-M: the default streaming model, trained briefly and quantized, built into
tflite-micro + CMSIS-NN firmware for Cortex-M7 and Cortex-M55, run under ``qemu-system-arm`` and compared
with Python tflite-micro on real test clips (the slow test; needs ``make firmware-deps`` and the
tflite-micro source in ``../shared/third_party``, skipped otherwise).

``TINYSIGN_FIRMWARE_BUILD=DIR`` keeps the build folder (and its TFLM libraries, ~4 + ~7 min) between runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import write_pattern_records
from tests.tiny_models import quantized_model
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.firmware import DEFAULT_SOURCE, TOOLS, run_firmware
from tinysign.mcu import run_mcu_check
from tinysign.quantize import run_quantize
from tinysign.runtime.firmware import FLASH_BUDGET, FPS_TARGET, RAM_BUDGET, markdown
from tinysign.train import run_train

HAVE_FIRMWARE_TOOLS = all(shutil.which(tool) for tool in TOOLS) and DEFAULT_SOURCE.is_dir()


def test_missing_tools_is_one_actionable_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no arm-none-eabi-gcc, no qemu-system-arm
    with pytest.raises(TinysignError, match="make firmware-deps"):
        run_firmware(tmp_path / "q", tmp_path / "m", tmp_path / "r", tmp_path / "out")


@pytest.mark.skipif(not HAVE_FIRMWARE_TOOLS, reason="needs the Arm toolchain, QEMU and tflite-micro source")
def test_not_a_streaming_model_is_refused(tmp_path_factory, tmp_path):
    s3d = quantized_model(tmp_path_factory, "s3dconv1d")
    with pytest.raises(TinysignError, match="runs the streaming pair"):
        run_firmware(s3d, tmp_path, tmp_path, tmp_path / "out", tflm_build=tmp_path / "tflm")


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_FIRMWARE_TOOLS, reason="needs the Arm toolchain, QEMU and tflite-micro source")
def test_default_streaming_model_on_emulated_cortex_m(tmp_path):
    config = Config(model="streaming", epochs=1, batch_size=8, calibration_samples=24)
    records = write_pattern_records(
        tmp_path / "records", num_classes=4, per_split={"train": 6, "val": 2, "test": 2}
    )
    run_train(records, tmp_path / "train", config)
    run_quantize(tmp_path / "train", records, tmp_path / "quant", config)
    run_mcu_check(tmp_path / "quant", records, tmp_path / "mcu", config)
    build = Path(os.environ.get("TINYSIGN_FIRMWARE_BUILD") or tmp_path / "build")
    report = run_firmware(tmp_path / "quant", tmp_path / "mcu", records, build, num_clips=4)

    assert set(report["targets"]) == {"m7", "m55"}
    for target in report["targets"].values():
        # every int8 output of CMSIS-NN on the emulated core within 1 LSB of Python tflite-micro
        comparison = target["comparison"]
        assert comparison["within_tolerance"], target.get("divergence")
        assert comparison["features"]["outputs"] == 4 * 24 and comparison["head"]["outputs"] > 0
        assert target["top_matches_project"]  # the per-clip top class printed over semihosting
        assert 0 < target["arena"]["used"] <= target["sizes"]["ram_arena"]
    m7 = report["targets"]["m7"]
    assert m7["sizes"]["flash"] <= FLASH_BUDGET and m7["sizes"]["static_ram"] <= RAM_BUDGET
    assert m7["timing"]["fps"] >= FPS_TARGET
    assert (build / "firmware_report.md").read_text() == markdown(report)
