"""Domain errors of the account services: requests that cannot be done, with a one-line reason.

The CLI prints them; the HTTP APIs map them onto the registry's error hierarchy at their boundary.
"""


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why in one line."""


class NotFound(AccountError):
    """The user, organization, team, robot or repository named does not exist (or is not visible)."""
