"""tinysign: word-level sign language recognition small enough for a microcontroller."""

__version__ = "0.1.0"
