"""The firmware's console protocol, defined once: the C header the firmware prints with, and the parser.

Every line the firmware prints for the driver is ``TS <TAG> ...``. :data:`RECORDS` defines each kind of
line; :func:`header_text` is ``console_protocol.h`` (a printf format ``TS_FORMAT_<TAG>`` per
record, used by ``firmware/src/qemu/``) and :func:`parse` reads a console transcript back with the same
definitions. Lines that are not records (tflite-micro's log, a fault report) are kept as the log.

A record has positional fields (``TS F 12 4040 1425496 <hex>``) or ``key=value`` fields (``TS MEM
heap_used=0 ...``); a *payload* record ends with the hex of raw bytes (int8 outputs, op dumps), which the
firmware prints in chunks after the formatted prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PREFIX = "TS"
HEADER = "console_protocol.h"
_INTEGER = {"d", "u", "ld", "lu"}  # printf conversions of integer fields ("lx": hexadecimal)


@dataclass(frozen=True)
class Record:
    """One kind of console line: ``TS <tag>`` then ``fields`` (``(name, printf conversion)``).

    Attributes:
        tag: the record's name after ``TS``.
        doc: what the line says (also the comment in the C header).
        fields: ``(name, conversion)``; conversions ``d u ld lu`` (integers), ``lx`` (hexadecimal), ``s``.
        keyed: fields printed as ``name=value`` (else positional, separated by spaces).
        payload: followed by the hex of raw bytes (two digits per byte, in memory order).
    """

    tag: str
    doc: str
    fields: tuple[tuple[str, str], ...]
    keyed: bool = False
    payload: bool = False

    @property
    def format(self) -> str:
        """The C printf format of the line up to its payload (a payload record's ends with a space)."""
        items = [f"{name}=%{conv}" if self.keyed else f"%{conv}" for name, conv in self.fields]
        return " ".join([PREFIX, self.tag, *items]) + (" " if self.payload else "")

    def values(self, text: str) -> dict[str, int | str]:
        """The fields of one line's text after ``TS <tag> `` (the payload, if any, under ``"payload"``)."""
        if self.keyed:
            pairs = dict(item.split("=", 1) for item in text.split() if "=" in item)
            return {name: _convert(pairs[name], conv) for name, conv in self.fields}
        count = len(self.fields) + self.payload
        tokens = text.split(maxsplit=count - 1)  # the last field (a message, a payload) keeps its spaces
        if len(tokens) < len(self.fields):
            raise ValueError(f"{PREFIX} {self.tag}: expected {count} fields, got {text!r}")
        values = {
            name: _convert(token, conv) for (name, conv), token in zip(self.fields, tokens, strict=False)
        }
        if self.payload:
            values["payload"] = tokens[-1] if len(tokens) > len(self.fields) else ""
        return values


def _convert(token: str, conversion: str) -> int | str:
    if conversion in _INTEGER:
        return int(token)
    return int(token, 16) if conversion.endswith("x") else token


RECORDS = {
    record.tag: record
    for record in (
        Record(
            "BEGIN",
            "the build: board, arena, the stream played, the model's shapes, front end, recognizer",
            (
                ("board", "s"),
                ("arena_bytes", "u"),
                ("stream_frames", "d"),
                ("clips", "d"),
                ("num_frames", "d"),
                ("feature_dim", "d"),
                ("classes", "d"),
                ("image", "d"),
                ("frontend", "s"),
                ("binning", "d"),
                ("reset_per_clip", "d"),
                ("dump_frame", "d"),
                ("spot_window", "d"),
                ("spot_threshold", "ld"),
                ("spot_suppression", "d"),
            ),
            keyed=True,
        ),
        Record(
            "CALIB",
            "a loop of 2 x iterations instructions (subs + bne) took ticks SysTick ticks",
            (("iterations", "lu"), ("ticks", "lu")),
            keyed=True,
        ),
        Record(
            "TENSOR",
            "an input or output tensor of a model: type, dims (AxBxC), scale (float bits), zero point",
            (
                ("model", "s"),
                ("which", "s"),
                ("type", "d"),
                ("dims", "s"),
                ("scale_bits", "08lx"),
                ("zp", "d"),
            ),
            keyed=True,
        ),
        Record(
            "ARENA",
            "the tensor arena: its size, what both models use, what the frame model uses",
            (("size", "u"), ("used", "u"), ("frame_used", "u")),
            keyed=True,
        ),
        Record(
            "F",
            "the frame model's int8 output at a stream frame; ticks of the front end and of Invoke()",
            (("frame", "d"), ("prepare_ticks", "lu"), ("invoke_ticks", "lu")),
            payload=True,
        ),
        Record(
            "H",
            "the head's int8 output at a stream frame; ticks of ring buffer -> input and of Invoke()",
            (("frame", "d"), ("prepare_ticks", "lu"), ("invoke_ticks", "lu")),
            payload=True,
        ),
        Record(
            "E",
            "the recognizer said a sign: stream frame, label index, score (window sum of q - zero point)",
            (("frame", "d"), ("label", "d"), ("score", "ld")),
        ),
        Record(
            "OP",
            "an op's output tensor (raw bytes) at the dump frame (TS_DUMP_FRAME builds)",
            (("model", "s"), ("frame", "d"), ("op", "d"), ("tensor", "d")),
            payload=True,
        ),
        Record(
            "MEM",
            "heap handed out by _sbrk and its size; deepest stack use and the stack's size",
            (("heap_used", "u"), ("heap_size", "u"), ("stack_used", "u"), ("stack_size", "u")),
            keyed=True,
        ),
        Record("ERROR", "what failed (the run ends with a non-zero status)", (("what", "s"),)),
        Record("END", "the run's status (0 = ok)", (("status", "d"),), keyed=True),
    )
}


def header_text() -> str:
    """``console_protocol.h``: one ``TS_FORMAT_<TAG>`` printf format per record."""
    lines = [
        "// Generated from tinysign/runtime/firmware/protocol.py (the console protocol). Do not edit.",
        "#ifndef TINYSIGN_CONSOLE_PROTOCOL_H_",
        "#define TINYSIGN_CONSOLE_PROTOCOL_H_",
        "",
    ]
    for record in RECORDS.values():
        fields = [] if record.keyed else [name for name, _ in record.fields]
        shape = " ".join([PREFIX, record.tag, *fields, *(["hex"] if record.payload else [])])
        lines.append(f"// {shape}: {record.doc}")
        lines.append(f'#define TS_FORMAT_{record.tag} "{record.format}"')
    return "\n".join([*lines, "", "#endif", ""])


@dataclass
class Console:
    """What the firmware printed, by record.

    Attributes:
        settings: the ``key=value`` records by tag in lower case (``begin``, ``calib``, ``arena``, ``mem``,
            ``end``).
        tensors: ``"<model>_<in|out>"`` -> dims, scale, zero point.
        features / head: stream frame -> the int8 output printed.
        ticks: stream frame -> ``{"features": (prepare, invoke), "head": (prepare, invoke)}``.
        emissions: ``(frame, label, score)`` in the order printed.
        ops: the op dumps (``model, frame, op, tensor, raw``).
        errors: the ``TS ERROR`` messages; log: every other non-empty line.
    """

    settings: dict[str, dict[str, int | str]] = field(default_factory=dict)
    tensors: dict[str, dict[str, object]] = field(default_factory=dict)
    features: dict[int, np.ndarray] = field(default_factory=dict)
    head: dict[int, np.ndarray] = field(default_factory=dict)
    ticks: dict[int, dict[str, tuple[int, int]]] = field(default_factory=dict)
    emissions: list[tuple[int, int, int]] = field(default_factory=list)
    ops: list[dict[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def parse(text: str) -> Console:
    """A console transcript -> :class:`Console` (records by :data:`RECORDS`; other lines into the log)."""
    console = Console()
    for line in text.splitlines():
        tag, _, rest = line.strip().removeprefix(f"{PREFIX} ").partition(" ")
        record = RECORDS.get(tag) if line.startswith(f"{PREFIX} ") else None
        if record is None:
            if line.strip():
                console.log.append(line.strip())
            continue
        values = record.values(rest)
        if tag in ("F", "H"):
            part = "features" if tag == "F" else "head"
            frame = int(values["frame"])
            getattr(console, part)[frame] = _int8(str(values["payload"]))
            console.ticks.setdefault(frame, {})[part] = (
                int(values["prepare_ticks"]),
                int(values["invoke_ticks"]),
            )
        elif tag == "E":
            console.emissions.append((int(values["frame"]), int(values["label"]), int(values["score"])))
        elif tag == "OP":  # raw bytes: compare.first_divergent_op views them with the tensor's dtype
            console.ops.append({**values, "raw": bytes.fromhex(str(values.pop("payload")))})
        elif tag == "TENSOR":
            scale = np.frombuffer(int(values["scale_bits"]).to_bytes(4, "little"), np.float32)[0]
            console.tensors[f"{values['model']}_{values['which']}"] = {
                "dims": [int(d) for d in str(values["dims"]).split("x")],
                "scale": float(scale),
                "zero_point": int(values["zp"]),
            }
        elif tag == "ERROR":
            console.errors.append(str(values["what"]))
        else:
            console.settings[tag.lower()] = values
    return console


def _int8(hex_text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(hex_text), dtype=np.int8).copy()
