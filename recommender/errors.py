"""One family of errors: everything the project raises on purpose is a `XuanpinError`, so a caller that must
not crash (the model reloader, the command line) catches one class and prints its message, which names the
problem (file, column, row, field). Each subclass also keeps the built-in base it had, so ``except
ValueError`` around a contract or artifact check keeps working."""

from __future__ import annotations


class XuanpinError(Exception):
    """Base of every error raised on purpose; its message is meant for a person."""


class ConfigError(XuanpinError, ValueError):
    """A configuration file or value is invalid; the message names the file and field."""


class ContractError(XuanpinError, ValueError):
    """The snapshot breaks the data contract; the message lists every problem found."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        lines = [f"snapshot refused: {len(problems)} fatal problem(s)"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class ArtifactError(XuanpinError, ValueError):
    """A model artifact is missing, incomplete or inconsistent; the message names the file."""


class FormatError(ArtifactError):
    """An artifact in a format this code does not read (retired, or newer): another version of the code may,
    so it is not damaged."""


class RegistryError(XuanpinError, RuntimeError):
    """The model registry refuses an operation (unknown version, no manifest, ...)."""


class LockHeld(RegistryError):
    """Another job holds the registry lock."""


class StoreUnavailable(XuanpinError, RuntimeError):
    """The hot-items store cannot be reached; callers serve what they last knew."""
