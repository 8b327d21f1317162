"""Cron expressions for recurring runs: one parser, converted to KFP's 6 or Vertex's 5 fields.

Not croniter (checked 6.2.4): it reads a range that runs backwards (``5-2``) as a wrap-around and
takes a 7th (year) field, both refused here (KFP takes 6 fields, Vertex 5), and its errors do not
say which field is wrong; keeping these behaviours would cost about the ~25 lines of checks it would
replace.
"""

from __future__ import annotations

import re

from tinysign.errors import TinysignError

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# (name, lowest, highest) of the 5 standard fields; KFP puts a seconds field (0-59) in front.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
NAMES = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "sun": 0,
    "mon": 1,
    "tue": 2,
    "wed": 3,
    "thu": 4,
    "fri": 5,
    "sat": 6,
}
_TZ = re.compile(r"^(?:CRON_TZ|TZ)=[A-Za-z0-9_+\-/]+$")


def _check_field(expr: str, field: str, name: str, low: int, high: int) -> None:
    def number(text: str) -> int:
        value = NAMES.get(text.lower()) if not text.isdigit() else int(text)
        if value is None or not low <= value <= high:
            raise TinysignError(f"--cron {expr!r}: {name} field {field!r} is outside {low}-{high}")
        return value

    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise TinysignError(f"--cron {expr!r}: bad step in {name} field {field!r}")
        if base in ("*", "?"):
            continue
        first, _, last = base.partition("-")
        if not first or (last == "" and "-" in base):
            raise TinysignError(f"--cron {expr!r}: cannot read {name} field {field!r}")
        if last and number(first) > number(last):
            raise TinysignError(f"--cron {expr!r}: range {base!r} in the {name} field runs backwards")
        number(first)


def parse_cron(expr: str) -> tuple[str, str, list[str]]:
    """Split a cron expression into (timezone prefix, seconds field, the 5 standard fields).

    Accepts 5 fields (``m h dom mon dow``, Vertex style), 6 fields (``s m h dom mon dow``, KFP
    style), an optional ``TZ=Area/City`` / ``CRON_TZ=...`` prefix and ``@daily``-style macros.
    """
    words = expr.split()
    timezone = words.pop(0) if words and _TZ.match(words[0]) else ""
    if len(words) == 1 and words[0].lower() in MACROS:
        words = MACROS[words[0].lower()].split()
    if len(words) == 5:
        seconds = "0"
    elif len(words) == 6:
        seconds = words.pop(0)
    else:
        raise TinysignError(
            f"--cron {expr!r}: need 5 fields 'minute hour day month weekday' "
            "(or 6 with seconds first), e.g. '0 3 * * 1' = Mondays 03:00"
        )
    if not (seconds.isdigit() and 0 <= int(seconds) <= 59):
        raise TinysignError(f"--cron {expr!r}: the seconds field must be a number 0-59, not {seconds!r}")
    for field, (name, low, high) in zip(words, FIELDS, strict=True):
        _check_field(expr, field, name, low, high)
    return timezone, seconds, words


def kfp_cron(expr: str) -> str:
    """The 6-field cron Kubeflow Pipelines expects (seconds first; no time-zone prefix)."""
    timezone, seconds, fields = parse_cron(expr)
    if timezone:
        raise TinysignError(
            f"--cron {expr!r}: KFP recurring runs have no time-zone prefix (they run in "
            "the cluster's time zone, usually UTC); drop the TZ=... part"
        )
    return " ".join([seconds, *fields])


def vertex_cron(expr: str) -> str:
    """The 5-field cron Vertex AI schedules expect (optional ``TZ=`` prefix; no seconds field)."""
    timezone, seconds, fields = parse_cron(expr)
    if seconds != "0":
        raise TinysignError(
            f"--cron {expr!r}: Vertex AI schedules run at whole minutes; the seconds field must be 0"
        )
    return " ".join([timezone, *fields]).strip()
