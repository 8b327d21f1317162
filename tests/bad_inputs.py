"""A generated corpus of bad inputs (no binaries committed) and the outcome each must have.

Every case builds a small dataset around a healthy core (2 glosses x 2 clips) plus one bad
thing, and names the outcome: ``drop`` (a drop-report row with that reason for the bad clip),
``kept`` (the clip is fine and kept, e.g. an ``.avi``), or ``error`` (one line naming the file and
what to do). ``tests/test_bad_inputs.py`` runs every case through the CLI and the extraction.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tinysign.demo import write_video

GOOD = {"alpha": ("a0", "a1"), "beta": ("b0", "b1")}


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it and what must happen."""

    name: str
    build: Callable[[Path], list[str]]  # writes the dataset under root, returns the ingest sources
    outcome: str  # drop | kept | error
    expect: str  # drop reason, kept clip id fragment, or error text fragment
    overrides: tuple[str, ...] = field(default=())


def video(
    path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), level: int = 90, fourcc: str = "mp4v"
) -> Path:
    """A small real video; each frame a different grey level so decoding is checkable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [np.full((size[1], size[0], 3), (level + 7 * k) % 256, np.uint8) for k in range(frames)]
    if fourcc == "mp4v":
        write_video(path, images, 25)
    else:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, size)
        assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
        for image in images:
            writer.write(image)
        writer.release()
    return path


# --- folder layout ------------------------------------------------------------------------------


def folder(root: Path, extra: Callable[[Path], None] | None = None) -> list[str]:
    """``root/data/<label>/<clip>.mp4`` with the healthy core, then ``extra(data)``."""
    data = root / "data"
    for label, clips in GOOD.items():
        for clip in clips:
            video(data / label / f"{clip}.mp4")
    if extra:
        extra(data)
    return [str(data)]


def with_file(
    relative: str, content: bytes | None = None, **video_args: object
) -> Callable[[Path], list[str]]:
    """A folder dataset plus one file: raw ``content`` bytes, or a video made with ``video_args``."""

    def extra(data: Path) -> None:
        path = data / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            video(path, **video_args)  # type: ignore[arg-type]
        else:
            path.write_bytes(content)

    return lambda root: folder(root, extra)


def truncated(data: Path) -> None:
    full = video(data / "alpha" / "tmp_full.mp4", frames=20)
    (data / "alpha" / "truncated.mp4").write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    full.unlink()


def unreadable(data: Path) -> None:
    os.chmod(video(data / "alpha" / "locked.mp4"), 0)


def broken_symlink(data: Path) -> None:
    os.symlink(data / "nowhere.mp4", data / "alpha" / "dangling.mp4")


def huge_frames(data: Path, side: int = 4800, name: str = "huge.avi") -> None:
    """A valid MJPG clip ``alpha/<name>`` of 9 grey frames of ``side`` x ``side`` (> max_frame_size
    4096): ~2 MB on disk, ~70 MB for one decoded frame."""
    writer = cv2.VideoWriter(
        str(data / "alpha" / name), cv2.VideoWriter_fourcc(*"MJPG"), 25, (side, side), False
    )
    frame = np.zeros((side, side), np.uint8)
    for k in range(9):
        frame[:] = 40 + 9 * k
        writer.write(frame)
    writer.release()


def elsewhere(root: Path) -> Path:
    """A folder beside the dataset, outside its root, with two clips."""
    for k in range(2):
        video(root / "elsewhere" / f"o{k}.mp4")
    return root / "elsewhere"


def linked(link: str, target: Callable[[Path, Path], Path]) -> Callable[[Path], list[str]]:
    """A folder dataset plus a symlink ``data/<link>`` to ``target(root, data)``."""

    def build(root: Path) -> list[str]:
        return folder(root, lambda data: os.symlink(target(root, data), data / link))

    return build


def wlasl_linked(link: str, target: Callable[[Path, Path], Path | str]) -> Callable[[Path], list[str]]:
    """A WLASL dataset plus a symlink ``data/<link>`` to ``target(root, data)``."""

    def build(root: Path) -> list[str]:
        sources = wlasl(root)
        os.symlink(target(root, root / "data"), root / "data" / link)
        return sources

    return build


def csv_through_outside_link(root: Path) -> list[str]:
    sources = metadata_csv({**CORE_ROWS})(root)
    os.symlink(elsewhere(root), root / "data" / "ext")
    with open(root / "data" / "metadata.csv", "a") as stream:
        stream.write("ext/o0.mp4,alpha\n")
    return sources


def more_clips(label: str, count: int) -> Callable[[Path], None]:
    def extra(data: Path) -> None:
        for k in range(count):
            video(data / label / f"{k}.mp4")

    return extra


def only_label(label: str, count: int) -> Callable[[Path], list[str]]:
    def build(root: Path) -> list[str]:
        for k in range(count):
            video(root / "data" / label / f"c{k}.mp4")
        return [str(root / "data")]

    return build


def spaced_root(root: Path) -> list[str]:
    return folder(root / "my data set with spaces")


def empty_dataset(root: Path) -> list[str]:
    (root / "data").mkdir()
    return [str(root / "data")]


# --- WLASL layout -------------------------------------------------------------------------------


def wlasl(
    root: Path,
    extra_instances: list[dict[str, object]] | None = None,
    gloss: str = "alpha",
    raw_json: str | None = None,
    extra_entries: list[object] | None = None,
) -> list[str]:
    """A WLASL-processed folder with the healthy core, plus instances of ``gloss`` / raw entries."""
    data = root / "data"
    entries: list[object] = []
    for g, (label, clips) in enumerate(GOOD.items()):
        instances = [
            {
                "video_id": clip,
                "signer_id": 2 * g + i,  # 4 signers: a signer-independent split of the core exists
                "frame_start": 1,
                "frame_end": -1,
                "url": f"u/{clip}",
                "split": "train",
            }
            for i, clip in enumerate(clips)
        ]
        for clip in clips:
            video(data / "videos" / f"{clip}.mp4")
        entries.append({"gloss": label, "instances": instances})
    for instance in extra_instances or []:
        if "video_id" in instance and not str(instance.get("video_id", "")).startswith("nofile"):
            vid = str(instance["video_id"])
            if not (data / "videos" / f"{vid}.mp4").exists():
                video(data / "videos" / f"{vid}.mp4", frames=int(instance.pop("_frames", 12)))  # type: ignore[call-overload]
        instance.pop("_frames", None)
        entries.append({"gloss": gloss, "instances": [instance]})
    entries += extra_entries or []
    (data / "WLASL_v0.3.json").write_text(raw_json if raw_json is not None else json.dumps(entries))
    return [str(data)]


def instance(video_id: object = "x0", **fields: object) -> dict[str, object]:
    return {
        "video_id": video_id,
        "signer_id": 9,
        "frame_start": 1,
        "frame_end": -1,
        "url": f"u/{video_id}",
        **fields,
    }


def wlasl_with(*instances: dict[str, object], gloss: str = "alpha") -> Callable[[Path], list[str]]:
    return lambda root: wlasl(root, [dict(i) for i in instances], gloss=gloss)


def wlasl_entries(*entries: object) -> Callable[[Path], list[str]]:
    return lambda root: wlasl(root, extra_entries=list(entries))


def wlasl_raw(text: str) -> Callable[[Path], list[str]]:
    return lambda root: wlasl(root, raw_json=text)


def wlasl_bytes(content: bytes) -> Callable[[Path], list[str]]:
    def build(root: Path) -> list[str]:
        sources = wlasl(root)
        (root / "data" / "WLASL_v0.3.json").write_bytes(content)
        return sources

    return build


def wlasl_appended(raw_entry: str) -> Callable[[Path], list[str]]:
    """The healthy core's WLASL JSON with one more entry written as raw JSON text."""

    def build(root: Path) -> list[str]:
        sources = wlasl(root)
        path = root / "data" / "WLASL_v0.3.json"
        path.write_text(path.read_text()[:-1] + ", " + raw_entry + "]")
        return sources

    return build


DEEP = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON parser recurses


def wlasl_bom(root: Path) -> list[str]:
    sources = wlasl(root)
    path = root / "data" / "WLASL_v0.3.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return sources


def wlasl_missing_listed(root: Path) -> list[str]:
    sources = wlasl(root, [instance("nofile1")])
    (root / "data" / "missing.txt").write_text("nofile1\n")
    return sources


def wlasl_duplicate(root: Path) -> list[str]:
    return wlasl(root, [instance("a0", url="u/dup")])


def wlasl_subset_missing(root: Path) -> list[str]:
    return wlasl(root)


def wlasl_label_escape(label: str) -> Callable[[Path], list[str]]:
    return lambda root: wlasl(root, [instance("e0", signer_id=20), instance("e1", signer_id=21)], gloss=label)


# --- Kimpinde layout ----------------------------------------------------------------------------


def kimpinde(root: Path, header: str = "filename,label", rows: tuple[str, ...] = ()) -> list[str]:
    data = root / "data"
    lines = [header]
    for label, clips in GOOD.items():
        for clip in clips:
            video(data / f"{clip}.avi", fourcc="MJPG")
            lines.append(f"{clip}.avi,{label}" if header.startswith("filename,label") else f"{clip}.avi")
    (data / "metadata.csv").write_text("\n".join([*lines, *rows]) + "\n")
    return [f"kimpinde:{data}"]


def kimpinde_rows(*rows: str) -> Callable[[Path], list[str]]:
    return lambda root: kimpinde(root, rows=rows)


def metadata_csv(
    rows: dict[str, str], extra: str = "", prefix: bytes = b"", newline: str = "\n"
) -> Callable[[Path], list[str]]:
    """A ``metadata.csv`` folder: ``rows`` maps a file (relative path, made as a video) to the rest of
    its CSV row after ``filename,``; ``extra`` are header columns after ``filename,label``."""

    def build(root: Path) -> list[str]:
        data = root / "data"
        lines = ["filename,label" + (f",{extra}" if extra else "")]
        for name, rest in rows.items():
            video(data / name.replace("\\", "/"), fourcc="MJPG")
            lines.append(f"{name},{rest}")
        (data / "metadata.csv").write_bytes(prefix + newline.join(lines).encode() + newline.encode())
        return [str(data)]

    return build


CORE_ROWS = {f"{clip}.avi": label for label, clips in GOOD.items() for clip in clips}
# One signer per core clip, so a signer-independent split of the core exists.
SIGNED_ROWS = {name: f"{label},s{i}" for i, (name, label) in enumerate(CORE_ROWS.items())}


def same_name_in_two_folders(root: Path) -> list[str]:
    """Two files ``x/dup.avi`` and ``y/dup.avi`` and a row naming just ``dup.avi``: ambiguous."""
    sources = metadata_csv({**CORE_ROWS, "x/dup.avi": "alpha"})(root)
    video(root / "data" / "y" / "dup.avi", fourcc="MJPG")
    lines = (root / "data" / "metadata.csv").read_text().replace("x/dup.avi,", "dup.avi,")
    (root / "data" / "metadata.csv").write_text(lines)
    return sources


def label_folders_reuse_names(root: Path) -> list[str]:
    """Windows-style backslash paths; the same file name in two label folders."""
    rows = {**CORE_ROWS, "clips\\17\\6.avi": "alpha", "clips\\18\\6.avi": "beta"}
    return metadata_csv(rows)(root)


def split_folders(root: Path) -> list[str]:
    """``<root>/{train,val,test}/<label>/<clip>``: the dataset's own split."""
    data = root / "data"
    for split, clips in {"train": ("t0", "t1"), "val": ("v0",), "test": ("s0",)}.items():
        for label in GOOD:
            for clip in clips:
                video(data / split / label / f"{clip}.mp4")
    return [str(data)]


def not_a_dataset(root: Path) -> list[str]:
    return [str(root / "does-not-exist")]


def unwritable_output(root: Path) -> list[str]:
    (root / "out").write_text("a file where the output folder should be")
    return folder(root)


def copy_tree(root: Path) -> list[str]:  # two sources with the same layout combine
    first = folder(root)
    second = root / "second"
    shutil.copytree(first[0], second)
    return [first[0], str(second)]


CASES: list[Case] = [
    Case("zero_byte_file", with_file("alpha/empty.mp4", b""), "drop", "undecodable"),
    Case("truncated_mp4", lambda r: folder(r, truncated), "drop", "undecodable"),
    Case("text_named_mp4", with_file("alpha/notes.mp4", b"hello, I am text\n" * 20), "drop", "undecodable"),
    Case("random_bytes_mp4", with_file("alpha/noise.mp4", bytes(range(256)) * 64), "drop", "undecodable"),
    Case("one_frame_video", with_file("alpha/single.mp4", frames=1), "drop", "too_few_frames"),
    Case("five_frame_video", with_file("alpha/short.mp4", frames=5), "drop", "too_few_frames"),
    Case("huge_resolution", with_file("alpha/huge.mp4", frames=9, size=(2560, 1440)), "kept", "huge.mp4"),
    Case("tiny_resolution", with_file("alpha/tiny.mp4", size=(16, 12)), "kept", "tiny.mp4"),
    Case("avi_mjpg", with_file("alpha/clip.avi", fourcc="MJPG"), "kept", "clip.avi"),
    Case("mov_container", with_file("alpha/clip.mov"), "kept", "clip.mov"),
    Case("webm_vp8", with_file("alpha/clip.webm", fourcc="VP80"), "kept", "clip.webm"),
    Case("uppercase_extension", with_file("alpha/CLIP.MP4"), "kept", "CLIP.MP4"),
    Case(
        "unreadable_permissions",
        lambda r: folder(r, unreadable),
        "drop" if os.geteuid() else "kept",
        "unreadable" if os.geteuid() else "locked.mp4",
    ),
    Case("broken_symlink", lambda r: folder(r, broken_symlink), "drop", "missing_file"),
    Case(
        "symlink_file_outside_root",
        linked("alpha/linked.mp4", lambda r, d: elsewhere(r) / "o0.mp4"),
        "drop",
        "outside_root",
    ),
    Case("symlink_folder_outside_root", linked("gamma", lambda r, d: elsewhere(r)), "drop", "outside_root"),
    Case(
        "symlink_outside_root_allowed",
        linked("alpha/linked.mp4", lambda r, d: elsewhere(r) / "o0.mp4"),
        "kept",
        "alpha/linked.mp4",
        ("follow_outside_symlinks=true",),
    ),
    Case(
        "symlink_to_filesystem_root",
        linked("alpha/everything", lambda r, d: Path("/")),
        "drop",
        "outside_root",
    ),
    Case("symlink_loop", linked("alpha/loop", lambda r, d: d), "drop", "directory_loop"),
    Case(
        "wlasl_symlink_to_filesystem_root", wlasl_linked("videos/everything", lambda r, d: "/"), "kept", ":a0"
    ),
    Case("wlasl_symlink_loop", wlasl_linked("videos/loop", lambda r, d: d), "kept", ":b1"),
    Case("csv_row_through_outside_link", csv_through_outside_link, "drop", "outside_root"),
    Case("frames_too_large", lambda r: folder(r, huge_frames), "drop", "too_large"),
    Case("too_many_frames", with_file("alpha/long.mp4", frames=30), "drop", "too_large", ("max_frames=20",)),
    Case("non_video_file", with_file("beta/readme.txt", b"notes"), "drop", "not_a_video"),
    Case(
        "folder_inside_label",
        lambda r: folder(r, lambda d: (d / "beta" / "sub").mkdir()),
        "drop",
        "not_a_video",
    ),
    Case("path_with_spaces", spaced_root, "kept", "a0.mp4"),
    Case("label_with_spaces", lambda r: folder(r, more_clips("thank you", 2)), "kept", "thank you/"),
    Case("unicode_label", lambda r: folder(r, more_clips("über-ß-手話", 2)), "kept", "über-ß-手話/"),
    Case("frame_start_past_end", wlasl_with(instance("x0", frame_start=50)), "drop", "segment_out_of_range"),
    Case("frame_end_past_end", wlasl_with(instance("x0", frame_start=3, frame_end=500)), "kept", ":x0"),
    Case(
        "segment_too_short",
        wlasl_with(instance("x0", frame_start=10, frame_end=12)),
        "drop",
        "too_few_frames",
    ),
    Case("empty_frame_range", wlasl_with(instance("x0", frame_start=9, frame_end=3)), "drop", "bad_metadata"),
    Case("negative_frame_start", wlasl_with(instance("x0", frame_start=-4)), "drop", "bad_metadata"),
    Case("frame_start_not_a_number", wlasl_with(instance("x0", frame_start="abc")), "drop", "bad_metadata"),
    Case("frame_start_is_a_list", wlasl_with(instance("x0", frame_start=[1])), "drop", "bad_metadata"),
    Case(
        "frame_start_infinity", wlasl_with(instance("x0", frame_start=float("inf"))), "drop", "bad_metadata"
    ),
    Case("frame_end_nan", wlasl_with(instance("x0", frame_end=float("nan"))), "drop", "bad_metadata"),
    Case(
        "absurdly_deep_entry",
        wlasl_appended('{"gloss": "gamma", "instances": [{"video_id": "x0", "bbox": ' + DEEP + "}]}"),
        "drop",
        "bad_metadata",
    ),
    Case(
        "frame_start_of_5000_digits",
        wlasl_appended(
            '{"gloss": "gamma", "instances": [{"video_id": "x0", "frame_start": ' + "9" * 5000 + "}]}"
        ),
        "drop",
        "bad_metadata",
    ),
    Case("instance_without_video_id", wlasl_with({"signer_id": 3, "url": "u"}), "drop", "bad_metadata"),
    Case(
        "instance_not_an_object",
        wlasl_entries({"gloss": "gamma", "instances": ["x0"]}),
        "drop",
        "bad_metadata",
    ),
    Case("video_listed_in_missing_txt", wlasl_missing_listed, "drop", "missing_file"),
    Case("video_file_absent", wlasl_with(instance("nofile2")), "drop", "missing_file"),
    Case("duplicate_video_id", wlasl_duplicate, "drop", "duplicate_id"),
    Case("entry_without_gloss", wlasl_entries({"instances": [instance("g0")]}), "drop", "bad_metadata"),
    Case("entry_without_instances", wlasl_entries({"gloss": "gamma"}), "drop", "bad_metadata"),
    Case("gloss_not_a_string", wlasl_entries({"gloss": 42, "instances": []}), "drop", "bad_metadata"),
    Case("instances_not_a_list", wlasl_entries({"gloss": "gamma", "instances": "x"}), "drop", "bad_metadata"),
    Case("entry_not_an_object", wlasl_entries(["gamma"]), "drop", "bad_metadata"),
    Case("label_dot_dot_slash", wlasl_label_escape("../../escape"), "kept", ":e0"),
    Case("label_absolute_path", wlasl_label_escape("/etc/passwd"), "kept", ":e1"),
    Case("label_with_mathtext", wlasl_label_escape("$x^2$ \\frac{"), "kept", ":e0"),
    Case("label_with_newline", wlasl_label_escape("two\nlines"), "drop", "bad_label"),
    Case("label_with_control_char", wlasl_label_escape("bell\x07"), "drop", "bad_label"),
    Case("label_too_long", wlasl_label_escape("x" * 101), "drop", "bad_label"),
    Case("wlasl_json_not_json", wlasl_raw("{this is not json"), "error", "is not valid JSON"),
    Case("wlasl_json_not_a_list", wlasl_raw('{"gloss": "x"}'), "error", "expected a JSON list"),
    Case(
        "wlasl_json_not_utf8", wlasl_bytes(b'[{"gloss": "caf\xe9", "instances": []}]'), "error", "not UTF-8"
    ),
    Case("subset_file_missing", wlasl_subset_missing, "error", "nslt_100.json", ("subset=100",)),
    Case("csv_missing_columns", lambda r: kimpinde(r, header="filename"), "error", "needs the columns"),
    Case("csv_empty_label", kimpinde_rows("a0.avi,"), "drop", "bad_metadata"),
    Case("csv_unknown_file", kimpinde_rows("ghost.avi,alpha"), "drop", "missing_file"),
    Case("empty_dataset", empty_dataset, "error", "cannot tell the dataset layout"),
    Case("dataset_path_missing", not_a_dataset, "error", "does not exist"),
    Case("every_class_below_min", folder, "error", "min_per_class", ("min_per_class=3",)),
    Case("single_class", only_label("lonely", 3), "error", ">= 2 classes"),
    Case("output_not_writable", unwritable_output, "error", "choose a writable --out"),
    Case("two_sources_same_layout", copy_tree, "kept", "folder2:alpha/a0.mp4"),
    Case("ambiguous_file_name", same_name_in_two_folders, "drop", "ambiguous_file"),
    Case("two_rows_one_file", metadata_csv({**CORE_ROWS, "./a0.avi": "beta"}), "drop", "duplicate_file"),
    Case("backslash_paths_same_names", label_folders_reuse_names, "kept", "clips/18/6.avi"),
    Case(
        "csv_bom_and_crlf", metadata_csv(CORE_ROWS, prefix=b"\xef\xbb\xbf", newline="\r\n"), "kept", "b1.avi"
    ),
    Case("wlasl_json_bom", lambda r: wlasl_bom(r), "kept", ":a1"),
    Case(
        "one_signer_grouped",
        metadata_csv({n: f"{lab},s1" for n, lab in CORE_ROWS.items()}, "signer"),
        "error",
        "only 1 signer (s1): a signer-independent train/val/test split needs >= 3 signers",
    ),
    Case(
        "one_signer_video_split",
        metadata_csv({n: f"{lab},s1" for n, lab in CORE_ROWS.items()}, "signer"),
        "kept",
        "a0.avi",
        ("split_mode=video",),
    ),
    Case(
        "signer_split_unknown_name",
        metadata_csv(SIGNED_ROWS, "signer"),
        "error",
        "s9 not among",
        ("split_mode=signer", "test_signers=s9"),
    ),
    Case(
        "signer_split_clip_without_signer",
        metadata_csv({**SIGNED_ROWS, "nobody.avi": "alpha,"}, "signer"),
        "drop",
        "no_signer",
        ("split_mode=signer", "test_signers=s3"),
    ),
    Case(
        "official_split_column",
        metadata_csv(
            {n: f"{lab},{'test' if n.endswith('1.avi') else 'train'}" for n, lab in CORE_ROWS.items()},
            "split",
        ),
        "kept",
        "b1.avi",
        ("split_mode=official", "val_ratio=0", "train_ratio=0.8", "test_ratio=0.2"),
    ),
    Case(
        "official_split_folders", split_folders, "kept", "folder:test/beta/s0.mp4", ("split_mode=official",)
    ),
    Case(
        "official_split_absent",
        folder,
        "error",
        "none of the 4 clips can be placed",
        ("split_mode=official",),
    ),
]


# --- past ingest: what the other stages read --------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """A copy of real stage outputs for one case to damage: a tiny streaming model's quantize folder,
    its records (with ``stats.json``, as extraction writes it), a video, a dataset and its manifest."""

    quant: Path
    records: Path
    video: Path
    dataset: Path
    manifest: Path
    out: Path  # where the stage under test writes


@dataclass(frozen=True)
class StageCase:
    """Bad input to a stage after ingest: how to damage the inputs, which commands read them, the
    error text each must print on its one line."""

    name: str
    damage: Callable[[Inputs], None]
    commands: tuple[str, ...]  # evaluate | mcu | predict | train | ingest | extract
    expect: str
    file_size_limit: int = 0  # RLIMIT_FSIZE of the process in bytes (0: none): a full disk


def stage_command(command: str, inputs: Inputs) -> list[str]:
    """The ``tinysign`` arguments that run ``command`` on ``inputs``."""
    tiny = [arg for item in ("epochs=1", "batch_size=8", "feature_dim=16") for arg in ("--set", item)]
    return {
        "evaluate": ["evaluate", "--quant", str(inputs.quant), "--records", str(inputs.records)],
        "mcu": ["mcu", "--quant", str(inputs.quant), "--records", str(inputs.records)],
        "predict": ["predict", "--model", str(inputs.quant), str(inputs.video)],
        "train": ["train", "--records", str(inputs.records), *tiny],
        "ingest": ["ingest", str(inputs.dataset), "--quiet", "--set", "min_per_class=2"],
        "extract": [
            "extract",
            "--manifest",
            str(inputs.manifest),
            "--set",
            "img_size=16",
            "--set",
            "num_frames=8",
        ],
    }[command] + ([] if command == "predict" else ["--out", str(inputs.out / command)])


def int8_file(inputs: Inputs) -> Path:
    return next(inputs.quant.glob("streaming_frame_int8_*.tflite"))


def replace_model(content: Callable[[bytes], bytes]) -> Callable[[Inputs], None]:
    def damage(inputs: Inputs) -> None:
        path = int8_file(inputs)
        path.write_bytes(content(path.read_bytes()))

    return damage


def labels_bytes(content: bytes) -> Callable[[Inputs], None]:
    return lambda inputs: (inputs.quant / "labels.txt").write_bytes(content)


def flip_a_byte(inputs: Inputs) -> None:
    """One byte in the middle of a training shard changed: same size, a CRC that no longer matches."""
    shard = next(inputs.records.glob("train-*.tfrecord"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))


def interrupted_commit(inputs: Inputs) -> None:
    (inputs.records / "commit.json").write_text('{"state": "committing", "files": {}}')


def nothing(inputs: Inputs) -> None:
    pass


MODEL_READERS = ("evaluate", "mcu", "predict")
STAGE_CASES: list[StageCase] = [
    StageCase("tflite_empty", replace_model(lambda b: b""), MODEL_READERS, "is empty (0 bytes)"),
    StageCase(
        "tflite_truncated",
        replace_model(lambda b: b[: len(b) // 2]),
        MODEL_READERS,
        "is not a valid .tflite model",
    ),
    StageCase(
        "tflite_garbage",
        replace_model(lambda b: bytes(range(256)) * 40),
        MODEL_READERS,
        "is not a valid .tflite model",
    ),
    StageCase("labels_binary", labels_bytes(bytes(range(256)) * 4), MODEL_READERS, "is not UTF-8 text"),
    StageCase("labels_control_chars", labels_bytes(b"a\x07b\nc\nd\n"), MODEL_READERS, "is not a class name"),
    StageCase("tfrecord_corrupt_in_train", flip_a_byte, ("train",), "a corrupt TFRecord shard"),
    StageCase(
        "records_commit_interrupted", interrupted_commit, ("evaluate", "train"), "stopped while committing"
    ),
    StageCase("disk_full_ingest", nothing, ("ingest",), "File too large", file_size_limit=512),
    StageCase("disk_full_extract", nothing, ("extract",), "File too large", file_size_limit=4096),
    StageCase("disk_full_train", nothing, ("train",), "File too large", file_size_limit=20_000),
]
