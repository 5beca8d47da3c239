"""Exceptions raised by facecam; only the command-line front ends turn them into exit codes.

Every error carries a one-line message meant for the user. ``exit_code`` follows the
contract: 1 for a runtime failure, 2 for a usage or configuration error.
"""

from __future__ import annotations

__all__ = [
    "FacecamError",
    "UsageError",
    "ConfigError",
    "ImageError",
    "DataError",
    "BundleError",
    "ModelError",
    "SourceError",
    "StorageError",
    "NothingKept",
]


class FacecamError(Exception):
    """Base class: a failure with a readable one-line message."""

    exit_code = 1


class UsageError(FacecamError):
    """The command was called wrongly (bad argument, bad name, missing path given explicitly)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or ``--set`` override is invalid."""


class ImageError(FacecamError):
    """An image file cannot be read or decoded."""


class DataError(FacecamError):
    """Enrollment data cannot be used as it is (too few people or images)."""


class BundleError(FacecamError):
    """A model bundle is missing, corrupt, or does not fit the configuration."""


class ModelError(FacecamError):
    """A backbone cannot be built (weights missing, offline, wrong file)."""


class SourceError(FacecamError):
    """A camera, video file, stream or image folder cannot be opened or read."""


class StorageError(FacecamError):
    """A file cannot be written (disk full, read-only file system, no permission)."""


class NothingKept(FacecamError):
    """The workspace holds nothing for a command that reads or manages what is enrolled or kept.
    ``exit_code`` 0 when there is simply nothing to show, 2 when an argument names something
    that cannot be there."""

    def __init__(self, message: str, exit_code: int = 0) -> None:
        super().__init__(message)
        self.exit_code = exit_code
