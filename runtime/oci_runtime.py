"""The OCI runtime binary (runc by default), driven through its command line with private state (`--root`).

A container is started with `run --detach`: one runtime process creates and starts it, then exits; the
container's process is left to the caller, who must be a child subreaper to wait for it. The runtime's own
errors go to a JSON log file (not to the container's stdio, which the runtime hands on to the container), so
that a failure to start reads as one line and maps to docker's exit codes: 127 when the command is not
found, 126 when it cannot be executed, 125 otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections import namedtuple

DEFAULT_RUNTIME = "runc"
NOT_FOUND, NOT_EXECUTABLE, FAILED = 127, 126, 125


class RuntimeFailed(Exception):
    """The runtime could not do what was asked; `exit_code` is what `docker run` returns for it."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


class OciRuntime(namedtuple("OciRuntime", "binary state_root wrapper", defaults=((),))):  # not a dataclass:
    # dataclasses loads inspect, the largest import of `berth run`'s start-up
    __slots__ = ()
    binary: str  # a name on PATH or a path
    state_root: str  # --root: this berth's containers only
    wrapper: tuple[str, ...]  # what runs the binary (crun on a hybrid-cgroup host: see `hybrid_cgroups`)

    @staticmethod
    def find(name: str | None, state_root: str) -> OciRuntime:
        wanted = name or DEFAULT_RUNTIME
        found = which(wanted)
        if found is None:
            raise RuntimeFailed(f"OCI runtime {wanted!r} not found (install runc, or give --runtime PATH)")
        kind = os.path.basename(found)
        if kind != DEFAULT_RUNTIME:  # each runtime keeps its own state: runc cannot read crun's, nor the reverse
            state_root = os.path.join(os.path.dirname(state_root), f"runtime-{kind}")
            os.makedirs(state_root, mode=0o700, exist_ok=True)
        return OciRuntime(found, state_root, hybrid_cgroups() if kind == "crun" else ())

    def _argv(self, log: str | None, *args: str) -> list[str]:
        logging = ["--log", log, "--log-format", "json"] if log else []
        return [*self.wrapper, self.binary, "--root", self.state_root, *logging, *args]

    def run_detached(self, container_id: str, bundle: str, stdio: tuple[int, int, int],
                     console_socket: str | None = None) -> int:
        """Create and start the container with `stdio` as its stdin, stdout and stderr (or a terminal whose
        master goes to `console_socket`); returns its pid."""
        console = ["--console-socket", console_socket] if console_socket else []
        log, pid_file = f"{bundle}/runtime.log", f"{bundle}/pid"
        _remove(log, pid_file)
        status = _call(self._argv(log, "run", "--detach", *console, "--bundle", bundle, "--pid-file", pid_file,
                                  container_id), stdio)
        if status != 0:
            message = self._failure(log, status)
            raise RuntimeFailed(message, _exit_code_for(message))
        return _read_pid(pid_file)

    def exec_detached(self, container_id: str, process: str, stdio: tuple[int, int, int],
                      console_socket: str | None = None) -> int:
        """Start the process described by the `process` file (runtime-spec "process") in the running container,
        with `stdio` (or a terminal, as for `run_detached`); returns its pid, which the caller may wait for as
        a child subreaper."""
        console = ["--console-socket", console_socket] if console_socket else []
        stem = os.path.splitext(process)[0]
        log, pid_file = f"{stem}.log", f"{stem}.pid"
        status = _call(self._argv(log, "exec", "--detach", *console, "--process", process, "--pid-file", pid_file,
                                  container_id), stdio)
        try:
            if status != 0:
                message = self._failure(log, status)
                raise RuntimeFailed(message, _exit_code_for(message))
            return _read_pid(pid_file)
        finally:
            _remove(log, pid_file)

    def pause(self, container_id: str, log: str) -> None:
        """Freeze every process of the running container (its freezer cgroup) until `resume`; RuntimeFailed in
        the runtime's words (written to `log` meanwhile) if it cannot."""
        self._control(log, "pause", container_id)

    def resume(self, container_id: str, log: str) -> None:
        """Thaw a container frozen by `pause`."""
        self._control(log, "resume", container_id)

    def _control(self, log: str, *args: str) -> None:
        _remove(log)
        try:
            status = _call_quietly(self._argv(log, *args))
            if status != 0:
                raise RuntimeFailed(self._failure(log, status))
        finally:
            _remove(log)

    def delete(self, container_id: str) -> None:
        """Forget a stopped container (its state and cgroups); nothing happens if the runtime holds none."""
        if os.path.exists(f"{self.state_root}/{container_id}"):
            _call_quietly(self._argv(None, "delete", "--force", container_id))

    def _failure(self, log: str, status: int) -> str:
        """Why the runtime failed: its last error in `log`, else its exit status."""
        return _last_error(log) or f"{os.path.basename(self.binary)} exited {status}"


def _call_quietly(argv: list[str]) -> int:
    """`_call` with /dev/null for stdin, stdout and stderr (the runtime's errors go to its log)."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        return _call(argv, (null, null, null))
    finally:
        os.close(null)


def _call(argv: list[str], stdio: tuple[int, int, int]) -> int:
    """Run `argv` (found on PATH) in a session of its own with `stdio` as its fds 0-2; its exit status.
    subprocess.run(..., start_new_session=True) without loading subprocess and threading (3 ms of the
    50 that `berth run` spends in Python). Not posix_spawn: glibc's leaves signal 32 (SIGCANCEL) ignored in
    the child, and so in the container. Only the three descriptors pass; SIGPIPE and SIGXFSZ, which Python
    ignores, are reset as subprocess resets them."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: nothing but system calls until exec
        try:
            os.setsid()
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as subprocess's close_fds: only stdio goes on
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def which(command: str) -> str | None:
    """shutil.which(command), without loading shutil (with bz2 and lzma, longer than this one call)."""
    if os.path.dirname(command):
        candidates = [command]
    else:
        path = os.environ.get("PATH")
        path = (os.confstr("CS_PATH") or os.defpath) if path is None else path
        candidates = [os.path.join(directory, command) for directory in dict.fromkeys(path.split(os.pathsep))]
    return next((c for c in candidates if os.access(c, os.X_OK) and not os.path.isdir(c)), None)


def _read_pid(pid_file: str) -> int:
    with open(pid_file) as f:
        return int(f.read())


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _last_error(log: str) -> str:
    """The runtime's last error message in its JSON log."""
    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal") and entry.get("msg"):
            return str(entry["msg"])
    return ""


def _exit_code_for(message: str) -> int:
    """docker's mapping of a start failure to run's exit status (moby: cli/command/container/run.go)."""
    message = message.lower()  # runc writes "no such file or directory", crun "No such file or directory"
    if "executable file" in message and "not found" in message or "no such file or directory" in message:
        return NOT_FOUND
    if "permission denied" in message or "is a directory" in message:
        return NOT_EXECUTABLE
    return FAILED


def hybrid_cgroups() -> tuple[str, ...]:
    """crun refuses a host whose cgroups are hybrid (v1 controllers beside a cgroup2 tree at
    /sys/fs/cgroup/unified); in a private mount namespace without that mount it sees plain v1 and works.
    Slave propagation keeps later mounts (other containers' roots) visible inside. Nothing on other hosts."""
    if not os.path.ismount("/sys/fs/cgroup/unified"):
        return ()
    return ("unshare", "-m", "--propagation", "slave", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"',
            "crun")
