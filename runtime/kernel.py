"""The runtime's one seam to the kernel: the mount, open and process calls Python 3.11 lacks, through ctypes.

Everything privileged that berth does itself (rather than through the OCI runtime binary) goes through here:
overlay mounts (the new mount API, so that more lower layers fit than mount(2)'s 4096 option bytes allow),
unmounts, opening a path resolved inside a root (openat2 RESOLVE_IN_ROOT, for reading an image's files on the
host without following its symlinks out), and becoming a child subreaper (to wait for a container's process,
which the runtime leaves as an orphan). Syscall numbers 424 and up are the same on every architecture.
"""

from __future__ import annotations

import ctypes
import os
import resource

SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT, SYS_OPENAT2 = 429, 430, 431, 432, 437
FSOPEN_CLOEXEC = FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
MOVE_MOUNT_F_EMPTY_PATH = 4
AT_FDCWD = -100
MNT_DETACH = 2
RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10
PR_SET_CHILD_SUBREAPER = 36
MOUNT_OPTIONS_MAX = 4095  # mount(2) copies one page of options and silently drops the rest


class KernelError(OSError):
    """A system call failed; errno and the call's description are kept, as OSError's."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise KernelError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _syscall(number: int, *args: object) -> int:
    return int(_libc.syscall(ctypes.c_long(number), *args))


def mount_overlay(target: str, lowers: list[str], upper: str, work: str) -> None:
    """Mount an overlay at `target`: `lowers` topmost first, each one its own fsconfig call (no length limit).

    Kernels without the new mount API or `lowerdir+` (before 6.8) get mount(2) with lower paths relative to
    their common parent, as far as 4096 bytes of options go.
    """
    try:
        _mount_overlay_fsconfig(target, lowers, upper, work)
    except KernelError as exc:
        if exc.errno not in (38, 22):  # ENOSYS: no fsopen; EINVAL: no lowerdir+
            raise
        _mount_overlay_legacy(target, lowers, upper, work)


def _mount_overlay_fsconfig(target: str, lowers: list[str], upper: str, work: str) -> None:
    fs = _check(_syscall(SYS_FSOPEN, b"overlay", FSOPEN_CLOEXEC), "fsopen overlay")
    try:
        settings = [("lowerdir+", p) for p in lowers] + [("upperdir", upper), ("workdir", work)]
        for key, value in settings:
            _check(_syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_STRING, key.encode(), os.fsencode(value), 0),
                   f"overlay option {key}={value}")
        _check(_syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0), "creating the overlay")
        mounted = _check(_syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC, 0), "fsmount overlay")
        try:
            _check(_syscall(SYS_MOVE_MOUNT, mounted, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
                   f"mounting the overlay on {target}")
        finally:
            os.close(mounted)
    finally:
        os.close(fs)


def _mount_overlay_legacy(target: str, lowers: list[str], upper: str, work: str) -> None:
    base = os.path.commonpath(lowers)
    relative = ":".join(os.path.relpath(p, base) for p in lowers)
    options = f"lowerdir={relative},upperdir={upper},workdir={work}"
    if len(options) > MOUNT_OPTIONS_MAX:
        raise KernelError(7, f"{len(lowers)} layers do not fit in mount(2)'s options on this kernel")
    previous = os.getcwd()
    os.chdir(base)  # the relative lower paths resolve against the caller's directory
    try:
        _check(_libc.mount(b"overlay", os.fsencode(target), b"overlay", 0, options.encode()),
               f"mounting the overlay on {target}")
    finally:
        os.chdir(previous)


def unmount(target: str, lazy: bool = False) -> None:
    """Unmount `target` (lazily: detach now, release when no longer busy)."""
    _check(_libc.umount2(os.fsencode(target), MNT_DETACH if lazy else 0), f"unmounting {target}")


def is_mountpoint(path: str) -> bool:
    """Whether a mount sits on `path` (its device differs from its parent's, or it is in /proc/self/mountinfo)."""
    try:
        if os.stat(path).st_dev != os.stat(os.path.dirname(path) or ".").st_dev:
            return True
    except OSError:
        return False
    wanted = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == wanted for line in f)


def open_in_root(root: str | os.PathLike[str], path: str, flags: int = os.O_RDONLY) -> int:
    """Open `path` as if `root` were `/`: symlinks and `..` cannot leave `root` (openat2 RESOLVE_IN_ROOT)."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        how = _OpenHow(flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        return _check(_syscall(SYS_OPENAT2, root_fd, os.fsencode(path.lstrip("/") or "."), ctypes.byref(how),
                               ctypes.sizeof(how)), f"opening {path} in {root}")
    finally:
        os.close(root_fd)


def fork_off(keep: tuple[int, ...] = (), log: str | None = None, grandchild: bool = True) -> bool:
    """Fork a process of its own: True in the caller, False in the new process. That is a grandchild in a
    session of its own, which init (or the nearest subreaper) reaps, so the caller is left with no zombie;
    its stdin is /dev/null, stdout and stderr `log` (or /dev/null), and of the other fds only `keep` stay
    open: no terminal, and no pipe of the caller's caller held open (a test reading berth's output would
    wait for it). It must end with os._exit.
    `grandchild=False` makes it a child: for a caller that is a subreaper (a grandchild's orphan would come
    back to it anyway) and ends soon; waiting for the middle process cost `berth run` 2-9 ms on a busy host."""
    child = os.fork()
    if child:
        if grandchild:
            os.waitpid(child, 0)
        return True
    try:
        os.setsid()
        if grandchild and os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if log else null
        for fd, source in ((0, null), (1, out), (2, out)):
            os.dup2(source, fd)
        highest = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        previous = 2
        for fd in sorted(keep):
            os.closerange(previous + 1, fd)
            previous = fd
        os.closerange(previous + 1, highest)
    except BaseException:
        os._exit(1)
    return False


def become_subreaper() -> None:
    """Orphaned descendants (a container's process, once the runtime exits) are re-parented to us."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
