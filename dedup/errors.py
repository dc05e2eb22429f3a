"""Domain errors. The library raises these; the CLI turns them into one-line messages."""

from __future__ import annotations


class NewsdedupError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(NewsdedupError):
    """An input path or record cannot be used (the message names it and says how to fix it)."""


class SchemaError(NewsdedupError):
    """A table does not match the declared Arrow schema of its stage."""


class ConfigError(NewsdedupError, ValueError):
    """A setting is out of range or inconsistent with another one."""


class OutputError(NewsdedupError):
    """The output directory cannot be written, or is locked by another run."""
