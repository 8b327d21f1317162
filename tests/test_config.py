"""The one config object: coercion at the boundary, clear errors, per-stage slices."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tinysign
from tinysign.config import AUGMENT_RANGES, STAGE_KEYS, Config
from tinysign.errors import TinysignError

PACKAGE = Path(tinysign.__file__).parent
METHODS = {"replace", "to_dict", "for_stage"}
DERIVED = {
    "split_ratios": {"train_ratio", "val_ratio", "test_ratio"},
    "online_ranges": {f"augment_{name}" for name in (*AUGMENT_RANGES, "noise")},
    "copy_ranges": {f"augment_copy_{name}" for name in AUGMENT_RANGES},
}


def stage_modules(stage: str) -> set[str]:
    """The stage module and every tinysign module it imports, directly or not (its code runs there)."""
    import grimp

    graph = grimp.build_graph("tinysign")
    module = f"tinysign.{stage}"
    return {module} | {m for m in graph.find_upstream_modules(module) if m.startswith("tinysign.")}


def config_reads(module: str) -> set[str]:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    tree = ast.parse(path.read_text())
    names = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "config"
    }
    return set().union(*(DERIVED.get(n, {n}) for n in names - METHODS))


@pytest.mark.parametrize("stage", sorted(STAGE_KEYS))
def test_each_stage_gets_every_key_it_reads(stage):
    read = set().union(*(config_reads(m) for m in stage_modules(stage)))
    assert read <= set(STAGE_KEYS[stage]), f"{stage} reads {sorted(read - set(STAGE_KEYS[stage]))}"


def test_stage_slice_round_trips_and_isolates_changes():
    base, changed = Config(), Config(epochs=5)
    assert Config.from_dict(base.for_stage("train")).epochs == Config().epochs
    assert base.for_stage("ingest") == changed.for_stage("ingest")
    assert base.for_stage("extract") == changed.for_stage("extract")
    assert base.for_stage("train") != changed.for_stage("train")


def test_overrides_are_coerced_from_strings(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"epochs": 7, "fps_targets": [10, 30]}')
    config = Config.load(
        path,
        [
            "batch_size=8",
            "augment_flip=true",
            "fps_targets=[15.0, 30.0]",
            "val_ratio=0.15",
            "test_ratio=0.15",
        ],
    )
    assert (config.epochs, config.batch_size, config.augment_flip, config.fps_targets) == (
        7,
        8,
        True,
        (15, 30),
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "x"}, "epochs='x' is not a valid value"),
        ({"epocs": 3}, "unknown config key"),
        ({"epochs": 2.5}, "is not a valid int"),
        ({"train_ratio": 0.9}, "must be 1"),
        ({"model": "resnet"}, "model must be one of"),
        ({"min_per_class": 30}, "min_per_class <= max_per_class"),
        ({"augment_flip": "maybe"}, "augment_flip"),
    ],
)
def test_bad_values_are_one_line_errors(values, message):
    with pytest.raises(TinysignError, match=message):
        Config.from_dict(values)


def test_bad_config_file(tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(TinysignError, match="not valid JSON"):
        Config.load(tmp_path / "bad.json")
    with pytest.raises(TinysignError, match="does not exist"):
        Config.load(tmp_path / "absent.json")
