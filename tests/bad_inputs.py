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
