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
