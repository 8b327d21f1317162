"""Small pieces of a self-contained HTML page: styles, embedded PNGs, notes, collapsible blocks."""

from __future__ import annotations

import base64
import csv
import datetime
import html
from pathlib import Path

from tinysign.reporting.tables import Table, to_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;font-size:.92em}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:
tabular-nums}.ok{color:#137333;font-weight:600}.fail{color:#c5221f;font-weight:600}
.missing{color:#777;font-style:italic}.verdict{font-size:1.3em;padding:.6em 1em;border-radius:6px;
display:inline-block}.verdict.ok{background:#e6f4ea}.verdict.fail{background:#fce8e6}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}figure{margin:1em 0}
figcaption{color:#555;font-size:.9em}details{margin:.6em 0}code{background:#f4f4f4;padding:0 .2em}
.bars{display:grid;grid-template-columns:max-content minmax(8em,1fr) max-content;gap:.25em .7em;
align-items:center;max-width:900px;margin:.6em 0;font-size:.92em}.track{background:#eee;height:.9em;
border-radius:3px;overflow:hidden}.fill{display:block;height:100%;background:#4a86c8}.fill.over{background:
#c5221f}.stamp{background:#f7f7f7;border-left:4px solid #bbb;padding:.4em .8em;margin:.6em 0}
.headline{font-size:1.15em}
"""
MAX_CSV_ROWS = 200


def escape(value: object) -> str:
    return html.escape(str(value))


def missing(what: str) -> str:
    """A greyed-out note for something that is not available."""
    return f"<p class=missing>{escape(what)}</p>"


def paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def verdict_banner(ok: bool, text: str) -> str:
    return f"<p class='verdict {'ok' if ok else 'fail'}'>{escape(text)}</p>"


def note(text: str) -> str:
    """A boxed paragraph: what produced the report, what the numbers mean."""
    return f"<p class=stamp>{escape(text)}</p>"


def image(path: Path, caption: str = "") -> str:
    """A PNG embedded as a base64 data URI (the page loads nothing from outside)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = caption or path.stem.replace("_", " ")
    return (
        f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def details(summary: str, body: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def csv_table(path: Path) -> str:
    """The first rows of a CSV file as a table."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    if not rows:
        return missing(f"{path.name} is empty")
    return to_html(Table(tuple(rows[0]), [tuple(_number(c) for c in r) for r in rows[1 : MAX_CSV_ROWS + 1]]))


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def page(title: str, subtitle: str, sections: list[tuple[str, str]]) -> str:
    """The whole document: title, a generated-at line, and one ``<h2>`` per section."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<h2>{escape(name)}</h2>{content}" for name, content in sections)
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>Generated {stamp}. {escape(subtitle)}</p>{body}</body></html>\n"
    )
