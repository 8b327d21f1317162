"""Command-line arguments several stages share, spelled once."""

from __future__ import annotations

import argparse


def add_folders(
    parser: argparse.ArgumentParser, out: str, *, quant: bool = False, records: bool = False
) -> None:
    """``[--quant DIR] [--records DIR] --out DIR`` (``out`` says what goes into the output folder)."""
    if quant:
        parser.add_argument("--quant", required=True, metavar="DIR", help="quantize output (.tflite files)")
    if records:
        parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (TFRecords)")
    parser.add_argument("--out", required=True, metavar="DIR", help=out)


def add_config_options(parser: argparse.ArgumentParser, nested: bool = False) -> None:
    """``--config FILE`` and ``--set KEY=VALUE`` (repeatable): the one configuration, from the command line.

    ``nested``: on an action under a command (``tinysign pipeline run``), where they may also come
    after the action; nothing is set when they do not, so those given before it are kept.
    """
    unset = {"default": argparse.SUPPRESS} if nested else {}
    parser.add_argument("--config", metavar="FILE", help="JSON file of config keys (see config.py)", **unset)
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        dest="overrides",
        help="override one config key, e.g. --set epochs=5 (repeatable)",
        **(unset or {"default": []}),
    )
