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
    RUN_FAILED = 125  # berth could not create or start the container (docker run's own failures)
    NOT_EXECUTABLE = 126  # the container's command cannot be executed
    COMMAND_NOT_FOUND = 127  # the container's command does not exist


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


class ContainerFailed(CliError):
    """A container could not be created or started: docker run's 125, or 126/127 for its command."""

    code = ExitCode.RUN_FAILED

    def __init__(self, message: str, code: int = ExitCode.RUN_FAILED) -> None:
        super().__init__(message)
        self.code = ExitCode(code)
