"""Containers as the CLI shows them: found by id, prefix or name, their status in docker's words, and the
runtime's failures turned into the CLI's one error with docker's exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

from runtime.containers import Container, ContainerError, ContainerStore
from runtime.lifecycle import RuntimeHome
from runtime.oci_runtime import RuntimeFailed
from runtime.rootfs import RootfsError

from .docker_words import human_duration, parse_time
from .environment import Environment
from .errors import CliError, ContainerFailed

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any


def runtime_home(env: Environment) -> RuntimeHome:
    """Containers, layers and runtime state live beside the image store (in $BERTH_HOME when it is set)."""
    return RuntimeHome(os.path.dirname(env.images_path))


def container_store(env: Environment) -> ContainerStore:
    with container_errors():
        return runtime_home(env).containers()


@contextmanager
def container_errors() -> Iterator[None]:
    """ContainerError exits 1 (as docker's "No such container"); a container that cannot start exits 125,
    126 or 127 as `docker run` does."""
    try:
        yield
    except RuntimeFailed as exc:
        raise ContainerFailed(exc.message, exc.exit_code) from None
    except RootfsError as exc:
        raise ContainerFailed(str(exc)) from None
    except ContainerError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or 'berth'}: {exc.strerror or exc}") from None


def find(env: Environment, text: str) -> Container:
    with container_errors():
        return container_store(env).get(text)


def for_each(env: Environment, names: list[str], action: Any) -> int:
    """Apply `action(container)` to each named container, printing each name given as docker does; an error
    is printed and the rest still go (exit 1 if any failed)."""
    failed = False
    for name in names:
        try:
            with container_errors():
                action(container_store(env).get(name))
            env.print(name)
        except CliError as exc:
            env.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    return 1 if failed else 0


def command_text(container: Container, no_trunc: bool = False) -> str:
    """docker ps's COMMAND: the command line, cut to 20 characters with an ellipsis, in Go's quotes."""
    command = " ".join([container.doc.get("Path", ""), *container.doc.get("Args", [])]).strip()
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    return json.dumps(command, ensure_ascii=False)


def since(value: str | None, now: datetime | None = None) -> float:
    moment = parse_time(_trim_nanos(value)) if value else None
    if moment is None:
        return 0.0
    from datetime import UTC, datetime  # here: `berth run` shows no times

    return ((now or datetime.now(UTC)) - moment).total_seconds()


def _trim_nanos(value: str) -> str:
    """Python's fromisoformat takes microseconds, not the nanoseconds docker writes."""
    head, dot, rest = value.partition(".")
    if not dot:
        return value
    digits = "".join(c for c in rest if c.isdigit())
    return f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"


def status_text(container: Container) -> str:
    """docker's STATUS: "Up 2 minutes", "Up 2 minutes (Paused)", "Exited (0) 5 seconds ago", "Restarting (1) 1
    second ago", "Created"."""
    state = container.state
    status = container.status
    if status in ("running", "paused"):
        up = "Up " + human_duration(since(state.get("StartedAt")))
        return up + " (Paused)" if status == "paused" else up
    if status == "restarting":
        return f"Restarting ({state.get('ExitCode', 0)}) {human_duration(since(state.get('FinishedAt')))} ago"
    if status == "dead":
        return "Dead"
    if status == "created" or str(state.get("FinishedAt", "")).startswith("0001"):
        return "Created"
    return f"Exited ({state.get('ExitCode', 0)}) {human_duration(since(state.get('FinishedAt')))} ago"


def inspect_payload(container: Container) -> dict[str, Any]:
    """docker's container inspect: the record without berth's private section, State as it is now."""
    doc = {k: v for k, v in container.doc.items() if k != "Berth"}
    state = dict(doc["State"])
    status = container.status
    state["Status"] = "exited" if status == "dead" else status
    state["Dead"] = status == "dead"
    state["Running"] = status in ("running", "paused", "restarting")
    state["Paused"] = status == "paused"  # a record left paused by a supervisor that died is not
    doc["State"] = state
    return doc
