"""User-facing errors: one line that names the input and says what to do."""


class TinysignError(Exception):
    """A problem with the user's input or environment, reported as one line (no traceback)."""
