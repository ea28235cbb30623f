"""`berth build`: Dockerfiles parsed, contexts read (with .dockerignore), steps run and cached, as docker's
classic builder does them."""


class BuildError(Exception):
    """The build cannot go on; the message is the one line docker prints (exit 1, nothing tagged)."""
