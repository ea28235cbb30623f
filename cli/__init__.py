"""berth: the daemonless client (login, search, pull, push, run)."""

__version__ = "0.1.0"
