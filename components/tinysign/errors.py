"""User-facing errors: one line that names the input and says what to do."""


class TinysignError(Exception):
    """A problem with the user's input or environment, reported as one line (no traceback); exit 1."""


class UsageError(TinysignError):
    """A command line that cannot work as given (a bad option value or combination); exit 2."""
