"""MCU proof: tflite-micro == LiteRT reference kernels, minimal arena, MACs, C arrays, report."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from tests.tiny_models import SMALL, quantized_model, shared_records, trained_model
from tinysign.data import records
from tinysign.mcu import run_mcu_check
from tinysign.model.files import load_quantized
from tinysign.runtime.arena import check_runs_at, probe_arena
from tinysign.runtime.boards import BOARDS
from tinysign.runtime.carrays import read_c_array, write_c_arrays
from tinysign.runtime.flatbuffer import model_ops
from tinysign.runtime.litert import LiteModel, runner_input
from tinysign.runtime.micro import MicroModel, bit_exact_check
from tinysign.runtime.vela import vela_path


def _test_clips(factory: pytest.TempPathFactory) -> np.ndarray:
    return records.load_arrays(shared_records(factory), "test")[0]


def test_tflm_is_bit_exact_with_litert_reference_kernels(tmp_path_factory):
    quant = load_quantized(quantized_model(tmp_path_factory, "s3dconv1d"))
    model = quant.read("model", "int8")
    clips = _test_clips(tmp_path_factory)
    result = bit_exact_check(quant, clips, {"model": 4 * probe_arena(model)})
    assert result["bit_exact"] and result["values_compared"] == len(clips) * 3
    # and by hand, one clip: identical raw int8 outputs
    micro, lite = MicroModel(model, 4 * probe_arena(model)), LiteModel(model, reference=True)
    x = runner_input(lite, quant.front.clip(clips[0]))
    np.testing.assert_array_equal(micro.invoke(x), lite.invoke(x))


def test_tflm_streaming_path_matches_litert_within_one_lsb(tmp_path_factory):
    """Frame model on every frame of a continuous stream, head on every full window.

    tflite-micro rounds requantization twice (gemmlowp style) and LiteRT's reference kernels once,
    so exact ties can differ by 1 LSB; anything more is a real mismatch.
    """
    quant = load_quantized(quantized_model(tmp_path_factory, "streaming"))
    clips = _test_clips(tmp_path_factory)
    arenas = {part: probe_arena(quant.read(part, "int8")) for part in quant.parts}
    result = bit_exact_check(quant, clips, arenas)
    frames = clips.shape[0] * clips.shape[1]
    assert result["parts"]["frame"]["invocations"] == frames
    assert result["parts"]["head"]["invocations"] == frames - SMALL.num_frames + 1
    assert result["within_tolerance"] and result["max_abs_diff_lsb"] <= 1
    assert result["mismatched_values"] <= 0.01 * result["values_compared"]
    for part in result["parts"].values():
        if part["mismatched_values"]:
            assert part["first_divergent_op"]["op"] == "FULLY_CONNECTED"


def test_arena_probe_finds_the_smallest_arena_that_runs(tmp_path_factory):
    quant = load_quantized(quantized_model(tmp_path_factory, "streaming"))
    model = quant.read("frame", "int8")
    arena = probe_arena(model)
    assert 1024 < arena < 64 * 1024
    micro = MicroModel(model, arena)  # runs at the probed size ...
    clip = _test_clips(tmp_path_factory)[0]
    first = quant.front.clip(clip[:1])[0]
    assert micro.invoke(runner_input(micro, first)).shape == (1, SMALL.feature_dim)
    assert check_runs_at(model, arena)
    assert not check_runs_at(model, arena - 1)  # ... and not one byte below
    with pytest.raises(RuntimeError):
        MicroModel(model, arena - 16)


def test_flatbuffer_macs_equal_the_keras_count(tmp_path_factory):
    from tinysign.model.architectures import count_macs, load_model

    for kind in ("s3dconv1d", "streaming"):
        quant = load_quantized(quantized_model(tmp_path_factory, kind))
        keras_macs = count_macs(load_model(trained_model(tmp_path_factory, kind) / "model.keras"))
        per_part = {
            part: sum(op["macs"] for op in model_ops(quant.read(part, "int8"))) for part in quant.parts
        }
        if kind == "s3dconv1d":
            assert per_part["model"] == keras_macs
        else:
            assert SMALL.num_frames * per_part["frame"] + per_part["head"] == keras_macs
    ops = [op["op"] for op in model_ops(quant.read("frame", "int8"))]
    assert ops == ["CONV_2D"] * len(SMALL.frame_filters) + ["MEAN", "FULLY_CONNECTED"]


def test_c_array_round_trips_to_identical_bytes(tmp_path):
    data = bytes(range(256)) * 3 + b"\x00\xff\x10"
    cc, h = write_c_arrays(
        {"g_demo_model_data": data, "g_other_model_data": b"\x01"}, tmp_path, {"kDemoArenaSize": 1234}
    )
    text = cc.read_text()
    assert "alignas(16) const unsigned char g_demo_model_data[] = {" in text
    assert "const unsigned int g_demo_model_data_size = 771;" in text
    assert "extern const unsigned char g_demo_model_data[];" in h.read_text()
    assert "constexpr int kDemoArenaSize = 1234;" in h.read_text()
    assert read_c_array(text, "g_demo_model_data") == data
    assert read_c_array(text, "g_other_model_data") == b"\x01"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")
def test_c_array_compiles_and_holds_the_tflite_bytes(tmp_path_factory, tmp_path):
    """Compile model_data.cc with g++ and dump the array: the exact .tflite bytes, 16-byte aligned."""
    model = load_quantized(quantized_model(tmp_path_factory, "streaming")).read("head", "int8")
    write_c_arrays({"g_streaming_head_model_data": model}, tmp_path)
    (tmp_path / "dump.cc").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "model_data.h"\n'
        "int main() {\n"
        "  if (reinterpret_cast<uintptr_t>(g_streaming_head_model_data) % 16) return 3;\n"
        "  fwrite(g_streaming_head_model_data, 1, g_streaming_head_model_data_size, stdout);\n"
        "  return 0;\n}\n"
    )
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-o",
            str(tmp_path / "dump"),
            str(tmp_path / "dump.cc"),
            str(tmp_path / "model_data.cc"),
        ],
        check=True,
        cwd=tmp_path,
    )
    dumped = subprocess.run([str(tmp_path / "dump")], capture_output=True, check=True).stdout
    assert dumped == model


def test_mcu_check_writes_report_c_arrays_and_budgets(tmp_path_factory, tmp_path):
    quant_dir = quantized_model(tmp_path_factory, "streaming")
    report = run_mcu_check(quant_dir, shared_records(tmp_path_factory), tmp_path, SMALL)
    for name in ("mcu_report.json", "mcu_report.md", "model_data.cc", "model_data.h", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    quant = load_quantized(quant_dir)
    text = (tmp_path / "model_data.cc").read_text()
    for part in ("frame", "head"):
        assert read_c_array(text, f"g_streaming_{part}_model_data") == quant.read(part, "int8")
        info = report["parts"][part]
        assert info["runs_at_arena"] and info["fails_below_arena"]
        assert info["flash_bytes"] == len(quant.read(part, "int8"))
    assert report["ring_buffer_bytes"] == SMALL.num_frames * SMALL.feature_dim
    arenas = report["parts"]["frame"]["arena_bytes"] + report["parts"]["head"]["arena_bytes"]
    assert report["total_sram_bytes"] == arenas + report["ring_buffer_bytes"]
    assert report["budgets"]["arena"]["passed"] and report["budgets"]["flash"]["passed"]
    boards = [b.core for b in BOARDS.values()]  # the one board table, shared with tinysign firmware
    assert [t["target"] for t in report["targets"]] == boards + ["Cortex-M55 (Helium) + Ethos-U55-128"]
    assert all(t["fits"] for t in report["targets"])
    assert report["tflm_vs_litert"]["within_tolerance"]
    assert json.loads((tmp_path / "metrics.json").read_text())["arena_bytes"] == report["arena_bytes"]
    assert "| frame |" in (tmp_path / "mcu_report.md").read_text()
    if vela_path():
        assert report["parts"]["frame"]["vela"]["npu_ops"] >= 1


def test_mcu_budgets_fail_loudly_in_the_report(tmp_path_factory, tmp_path):
    tight = SMALL.replace(arena_budget_bytes=1024, flash_budget_bytes=1024)
    report = run_mcu_check(
        quantized_model(tmp_path_factory, "s3dconv1d"), shared_records(tmp_path_factory), tmp_path, tight
    )
    assert not report["budgets"]["arena"]["passed"] and not report["budgets"]["flash"]["passed"]
    assert "FAIL" in (tmp_path / "mcu_report.md").read_text()


def test_each_op_alone_gets_the_inputs_litert_gave_it(tmp_path_factory):
    """The op-by-op comparison's harness is faithful: every op of the frame model, alone in LiteRT on the
    input tensors of LiteRT's full run, reproduces that run's output tensor exactly; and tflite-micro
    agrees with it op by op on this model."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    from tinysign.runtime.micro import _op_alone, _run_lite, compare_ops

    quant = load_quantized(quantized_model(tmp_path_factory, "streaming"))
    model = quant.read("frame", "int8")
    full = Interpreter(
        model_content=model,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    full.allocate_tensors()
    frames = quant.front.clip(_test_clips(tmp_path_factory)[0])
    parsed = runtime.convert_bytearray_to_object(bytearray(model))
    inputs = [runner_input(LiteModel(model), frame) for frame in frames[1:4]]
    for x in inputs:
        full.set_tensor(full.get_input_details()[0]["index"], x)
        full.invoke()
        for index in range(len(parsed.subgraphs[0].operators)):
            content, feeds, outputs = _op_alone(parsed, index)
            alone = _run_lite(content, [full.get_tensor(t) for t in feeds])
            np.testing.assert_array_equal(
                alone, np.concatenate([full.get_tensor(t).ravel() for t in outputs])
            )
    assert all(op["within_tolerance"] for op in compare_ops(model, inputs))


def _with_negated_weights(model: bytes) -> bytes:
    """The same INT8 model with its largest weight tensor negated: other weights, the same graph (a second
    trained model could happen to give the same outputs on a few clips; this one cannot)."""
    import flatbuffers
    from tflite_micro import runtime

    parsed = runtime.convert_bytearray_to_object(bytearray(model))
    largest = max(parsed.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    weights = np.asarray(largest.data, dtype=np.uint8).view(np.int8).astype(np.int16)
    largest.data = np.clip(-weights, -127, 127).astype(np.int8).view(np.uint8)
    builder = flatbuffers.Builder(1024)
    builder.Finish(parsed.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_a_difference_no_known_kernel_explains_fails_naming_where(tmp_path_factory):
    """tflite-micro running other weights than LiteRT: the outputs differ, no op does on the same inputs
    of the real model, so the check fails (and says so) instead of calling it rounding."""
    from tinysign.runtime.micro import ComparedRunner, beyond_tolerance

    quant = load_quantized(quantized_model(tmp_path_factory, "s3dconv1d"))
    model = quant.read("model", "int8")
    other = _with_negated_weights(model)
    compared = ComparedRunner(MicroModel(other, 4 * probe_arena(other)), LiteModel(model, reference=True))
    for clip in _test_clips(tmp_path_factory):
        compared.invoke(runner_input(compared, quant.front.clip(clip)))
    summary = compared.summary(model)
    assert summary["mismatched_values"] and not summary["ops_within_tolerance"]
    exact = {"parts": {"model": summary}}
    assert beyond_tolerance(exact) == "model: the outputs differ though no single op does on the same inputs"
