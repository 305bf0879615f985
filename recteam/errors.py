"""Errors a person can act on. Each carries one sentence that names the problem and, where there
is one, the setting or input to change; the CLI and UI print it without a stack trace."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "IngestError",
    "InputError",
    "ModelUnavailableError",
    "NotFoundError",
    "RecteamError",
    "StoreBusyError",
    "StoreUnavailableError",
]


class RecteamError(Exception):
    """Base for every error recteam reports to a person as a plain sentence."""


class ConfigError(RecteamError):
    """A setting is misspelt or has a bad value."""


class StoreUnavailableError(RecteamError):
    """The memory store cannot be reached or opened."""


class StoreBusyError(StoreUnavailableError):
    """The embedded store is owned by another process."""


class IngestError(RecteamError):
    """An input file cannot be ingested at all (individual bad rows are skipped, not raised)."""


class ModelUnavailableError(RecteamError):
    """No configured LLM answered: the model, its retries and its fallbacks all failed."""


class InputError(RecteamError):
    """A message, user name or file from the person is unusable as given."""


class NotFoundError(RecteamError):
    """A title, user or item named by the person is not in memory."""
