"""Tables built once from structure, rendered as Markdown (CLI, KFP UI) or HTML (the report).

A :class:`Table` holds plain values; a :class:`Verdict` cell renders as pass/FAIL in either format.
A :class:`Bar` is one row of a bar chart the report draws in HTML (a value against its full scale).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """A pass/fail cell (``text`` defaults to pass / FAIL)."""

    ok: bool
    text: str = ""

    def __str__(self) -> str:
        return self.text or ("pass" if self.ok else "FAIL")


@dataclass(frozen=True)
class Bar:
    """One bar: ``value`` against ``scale`` (a full bar), the ``text`` beside it; ``ok=False`` = over
    a limit (drawn red)."""

    label: str
    value: float
    scale: float
    text: str
    ok: bool = True


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header, with an optional title and note below."""

    header: tuple[str, ...]
    rows: list[tuple[object, ...]] = field(default_factory=list)
    title: str = ""
    note: str = ""


def cell_text(value: object) -> str:
    """One cell as text: numbers compact, bools yes/no, None n/a, long JSON cut."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"  # bytes, MACs: a count, whatever JSON made of it
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | dict):
        text = json.dumps(value)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


def to_markdown(table: Table) -> str:
    """A Markdown table (title as a heading line, note as a paragraph)."""
    lines = [f"**{table.title}**", ""] if table.title else []
    lines.append("| " + " | ".join(table.header) + " |")
    lines.append(
        "|" + "|".join("---:" if _numeric_column(table, i) else "---" for i in range(len(table.header))) + "|"
    )
    for row in table.rows:
        cells = [f"**{v}**" if isinstance(v, Verdict) and not v.ok else cell_text(v) for v in row]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


def to_html(table: Table) -> str:
    """An HTML table; numbers right-aligned, verdicts coloured, everything escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = []
        for value in row:
            if isinstance(value, Verdict):
                cells.append(
                    f"<td><span class={'ok' if value.ok else 'fail'}>{html.escape(str(value))}</span></td>"
                )
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f"<td class=num>{html.escape(cell_text(value))}</td>")
            else:
                cells.append(f"<td>{html.escape(cell_text(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<h3>{html.escape(table.title)}</h3>" if table.title else ""
    note = f"<p>{html.escape(table.note)}</p>" if table.note else ""
    return f"{title}<table><tr>{head}</tr>{''.join(body)}</table>{note}"


def bars_to_html(bars: list[Bar]) -> str:
    """Bars as a grid of label, track (filled to ``value / scale``, at most full) and text."""
    rows = []
    for bar in bars:
        width = 100 * min(1.0, max(0.0, bar.value / bar.scale)) if bar.scale > 0 else 0
        rows.append(
            f"<span>{html.escape(bar.label)}</span><span class=track>"
            f"<span class='fill{'' if bar.ok else ' over'}' style='width:{width:.1f}%'></span></span>"
            f"<span class={'num' if bar.ok else 'fail'}>{html.escape(bar.text)}</span>"
        )
    return f"<div class=bars>{''.join(rows)}</div>"


def _numeric_column(table: Table, index: int) -> bool:
    values = [row[index] for row in table.rows if index < len(row) and row[index] is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
