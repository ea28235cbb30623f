"""`berth run`'s flags, checked as docker checks them, and the container record they make with the image.

The record has docker's inspect shape: Config (the image's config with the flags applied), HostConfig (what
the host gives the container), State; its `Berth` section names the image's layers for the supervisor.
"""

from __future__ import annotations

import argparse
import os
import re

from registry.oci.digest import Digest
from runtime.containers import DEFAULT_PATH, ZERO_TIME, valid_name

from . import network_options
from .environment import Environment
from .errors import CliError, ContainerFailed, ExitCode
from .local_images import LocalImage
from .mount_flags import container_mounts

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
MIN_MEMORY = 6 << 20  # docker's minimum memory limit


class BadFlag(CliError):
    """A flag's value docker would refuse before creating anything: exit 125, as `docker run`."""

    code = ExitCode.RUN_FAILED


def add_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-d", "--detach", action="store_true", help="run in the background and print the container's ID")
    add("-i", "--interactive", action="store_true", help="keep stdin open and forward it to the container")
    add("-t", "--tty", action="store_true", help="give the container a terminal (with -i, this one's, in raw mode)")
    add("--name", help="a name for the container")
    add("--rm", action="store_true", help="remove the container when it exits")
    add("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="set an environment variable")
    add("--env-file", action="append", default=[], metavar="FILE", help="read environment variables from a file")
    add("-v", "--volume", action="append", default=[], metavar="[SRC:]DST[:ro]",
        help="mount a host directory (SRC an absolute path), a named volume (SRC a name) or a new anonymous volume")
    add("--volumes-from", action="append", default=[], metavar="CONTAINER[:ro|:rw]",
        help="mount the volumes of the given container")
    add("-w", "--workdir", metavar="DIR", help="the working directory inside the container")
    add("-u", "--user", metavar="NAME|UID[:GROUP|GID]", help="the user the command runs as")
    add("--entrypoint", metavar="CMD", help="override the image's entrypoint (and its default command)")
    add("-h", "--hostname", metavar="NAME", help="the container's host name")
    network_options.add_flags(parser)  # --network, -p, -P, --expose, --link
    add("--restart", default="no", metavar="POLICY", help="no, on-failure[:MAX], always or unless-stopped")
    add("-m", "--memory", type=memory_bytes, metavar="BYTES", help="memory limit, e.g. 512m or 1g")
    add("--cpus", type=float, metavar="N", help="how many CPUs the container may use, e.g. 1.5")
    add("--pids-limit", type=int, metavar="N", help="the most processes the container may have (-1: no limit)")
    add("--read-only", action="store_true", help="mount the container's root filesystem read-only")
    add("--runtime", metavar="PATH", help="the OCI runtime binary (default: runc)")
    add("--init", action="store_true", help="run an init inside the container that forwards signals and reaps")
    add("image", metavar="IMAGE")
    add("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


def memory_bytes(text: str) -> int:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?", text.strip().lower())
    if not found:
        raise argparse.ArgumentTypeError(f"invalid size: '{text}'")
    return int(float(found.group(1)) * UNITS[found.group(2)])


def check(args: argparse.Namespace) -> None:
    if args.name is not None and not valid_name(args.name):
        raise BadFlag(f"Invalid container name ({args.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if args.rm and args.restart not in ("no", ""):
        raise BadFlag("Conflicting options: --restart and --rm")
    if args.workdir is not None and not args.workdir.startswith("/"):
        raise BadFlag(f"the working directory '{args.workdir}' is invalid, it needs to be an absolute path")
    if args.memory is not None and args.memory < MIN_MEMORY:
        raise BadFlag("Minimum memory limit allowed is 6MB")
    cpus = os.cpu_count() or 1
    if args.cpus is not None and not 0.01 <= args.cpus <= cpus:
        raise BadFlag(f"Range of CPUs is from 0.01 to {cpus:.2f}, as there are only {cpus} CPUs available")
    restart_policy(args.restart)


def restart_policy(text: str) -> dict[str, Any]:
    name, _, count = text.partition(":")
    if name in ("no", "always", "unless-stopped", "") and not count:
        return {"Name": name or "no", "MaximumRetryCount": 0}
    if name == "on-failure" and (not count or count.isdigit()):
        return {"Name": name, "MaximumRetryCount": int(count or 0)}
    if count and name != "on-failure":
        raise BadFlag(f"maximum retry count cannot be used with restart policy '{name}'")
    raise BadFlag(f"invalid restart policy '{text}'")


def environment(env: Environment, args: argparse.Namespace, image_env: list[str]) -> list[str]:
    """The image's Env, then --env-file lines, then -e flags; a later KEY replaces an earlier one."""
    merged: dict[str, str] = {}
    for item in image_env:
        key, _, _ = item.partition("=")
        merged[key] = item
    given = []
    for path in args.env_file:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise BadFlag(f"open {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:  # docker's words; not a traceback
            line = exc.object[:exc.start].count(b"\n") + 1
            raise BadFlag(f"env file {path} contains invalid utf8 bytes at line {line}") from None
        given += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for item in given + args.env:
        key, has_value, _ = item.partition("=")
        if not key:
            raise BadFlag(f"invalid environment variable: {item}")
        if has_value:
            merged[key] = item
        elif key in env.environ:
            merged[key] = f"{key}={env.environ[key]}"
    if "PATH" not in merged:
        merged["PATH"] = DEFAULT_PATH
    return list(merged.values())


def container_doc(env: Environment, args: argparse.Namespace, image: LocalImage) -> dict[str, Any]:
    """The new container's record (without Id, Name and Created, which the store gives it)."""
    check(args)
    image_config = image.config.get("config") or {}
    entrypoint = list(image_config.get("Entrypoint") or [])
    cmd = list(image_config.get("Cmd") or [])
    if args.entrypoint is not None:
        entrypoint, cmd = ([args.entrypoint] if args.entrypoint else []), []
    if args.command:
        cmd = list(args.command)
    argv = entrypoint + cmd
    if not argv:
        raise ContainerFailed("No command specified")
    hostname = args.hostname or (os.uname().nodename if args.network == "host" else "")
    if any(ord(char) <= 32 or ord(char) == 127 for char in hostname):  # a line of its own in /etc/hosts
        raise BadFlag(f"invalid hostname format for --hostname: {hostname!r}")
    mounts = container_mounts(env, args.volume, getattr(args, "volumes_from", []), image_config.get("Volumes"))
    config = {
        "Hostname": hostname, "Domainname": "", "User": args.user if args.user is not None
        else image_config.get("User", ""), "AttachStdin": args.interactive and not args.detach,
        "AttachStdout": not args.detach, "AttachStderr": not args.detach, "Tty": args.tty,
        "OpenStdin": args.interactive, "StdinOnce": args.interactive and not args.detach,
        "Env": environment(env, args, list(image_config.get("Env") or [])), "Cmd": cmd or None,
        "Image": args.image, "Volumes": mounts.config_volumes or None,
        "WorkingDir": args.workdir or image_config.get("WorkingDir", ""), "Entrypoint": entrypoint or None,
        "Labels": image_config.get("Labels") or {},
    }
    if image_config.get("StopSignal"):
        config["StopSignal"] = image_config["StopSignal"]
    host = {
        "Binds": mounts.binds or None, "VolumesFrom": mounts.volumes_from or None, "NetworkMode": args.network,
        "RestartPolicy": restart_policy(args.restart), "AutoRemove": args.rm, "ReadonlyRootfs": args.read_only,
        "Memory": args.memory or 0, "NanoCpus": int((args.cpus or 0) * 1e9), "PidsLimit": args.pids_limit,
        "Runtime": args.runtime or "runc", "Init": args.init or None,
    }
    exposed, networking, network_settings = network_options.network_record(env, args, image_config.get("ExposedPorts"))
    config.update(exposed)
    host.update(networking)
    state = {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
             "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}
    return {"Path": argv[0], "Args": argv[1:], "State": state, "Image": image.id, "RestartCount": 0,
            "Driver": "overlay", "Platform": "linux", "HostConfig": host, "Config": config, "Mounts": mounts.mounts,
            "NetworkSettings": network_settings,
            "Berth": {"Layers": layer_digests(image), "SupervisorPid": 0, "ManuallyStopped": False,
                      "VolumesToFill": mounts.to_fill}}


def layer_digests(image: LocalImage) -> list[list[str | None]]:
    """[blob digest, diff_id] of each layer, bottom first."""
    diff_ids = (image.config.get("rootfs") or {}).get("diff_ids") or []
    found: list[list[str | None]] = []
    for number, layer in enumerate(image.layers):
        Digest.parse(layer["digest"])
        found.append([layer["digest"], diff_ids[number] if number < len(diff_ids) else None])
    return found
