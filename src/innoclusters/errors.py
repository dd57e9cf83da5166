"""One family of user-facing errors.

Every error a user can fix (bad input file, bad setting) is an :class:`InnoclustersError`.
The CLI prints it as a single ``Error: ...`` line and exits with status 2; anything else
is a bug and exits with status 1.
"""

from __future__ import annotations

__all__ = [
    "InnoclustersError",
    "InnoclustersWarning",
    "InputError",
    "OutputError",
    "PartialWindowWarning",
    "SettingsError",
]


class InnoclustersError(Exception):
    """Base class of every error caused by the user's input or settings."""


class InputError(InnoclustersError):
    """An input file cannot be read or lacks what the pipeline needs."""


class SettingsError(InnoclustersError):
    """A setting (from the CLI or a TOML file) is missing, unknown or out of range."""


class InnoclustersWarning(UserWarning):
    """Base class of the warnings about a run the user should read (the CLI prints them
    as ``Warning: ...`` lines on stderr)."""


class PartialWindowWarning(InnoclustersWarning):
    """A year window asked for (by ``edition`` or ``years``) holds records of only some of
    its years, so the metric is counted over fewer years than the window says."""


class OutputError(InnoclustersError):
    """The output folder cannot be used: a file, not writable, busy, or holding other files."""
