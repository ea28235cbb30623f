"""The one error of the berth CLI, with an exit code per kind of failure (printed as one line)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # anything else
    USAGE = 2  # bad command line (argparse's own code)
    AUTH = 3  # wrong credentials, or access denied
    NOT_FOUND = 4  # no such image, tag or repository
    NETWORK = 5  # the registry cannot be reached or broke off
    REFERENCE = 6  # an image reference that is not one
    STORE = 7  # the local image store cannot do it


class CliError(Exception):
    code = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthError(CliError):
    code = ExitCode.AUTH


class NotFound(CliError):
    code = ExitCode.NOT_FOUND


class NetworkError(CliError):
    code = ExitCode.NETWORK


class ReferenceError_(CliError):  # noqa: N801 - the builtin ReferenceError means something else
    code = ExitCode.REFERENCE


class LocalStoreError(CliError):
    code = ExitCode.STORE
