"""The one place where POSIX and Windows differ.

Everything else in oidc-lab is written once for every platform and asks this module for what an
operating system does its own way: where a user's files live, how a file is locked, what keeps a
file private, how a background process is started, found alive and stopped.

Standard library only at import time, because `lab token` (run by kubectl for every command)
imports it: `filelock`, `platformdirs` and `ctypes` are imported by the functions that need them.
"""

from __future__ import annotations

import os
import sys

WINDOWS = sys.platform == "win32"
MACOS = sys.platform == "darwin"
APP = "oidc-lab"

TYPE_CHECKING = False  # the typing module costs kubectl ~8 ms per command; annotations are strings
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence


# --- per-user folders -------------------------------------------------------------------------
def user_state_dir() -> str:
    """Where oidc-lab keeps its labs when OIDC_LAB_HOME is not set, by the platform's convention.

    Linux `$XDG_STATE_HOME/oidc-lab` (default `~/.local/state/oidc-lab`), macOS
    `~/Library/Application Support/oidc-lab`, Windows `%LOCALAPPDATA%\\oidc-lab`: platformdirs'
    `user_state_dir`, the authority. `lab token` uses `user_state_dir_light()` instead.
    """
    import platformdirs

    return os.path.expanduser(platformdirs.user_state_dir(APP, appauthor=False, roaming=False))


def user_state_dir_light() -> str:
    """`user_state_dir()` with the standard library alone, for the `lab token` hot path.

    Importing platformdirs costs more than a whole cached `lab token`; this follows the same rule
    from the environment, and a test keeps the two in agreement on every platform the suite runs on.
    """
    if WINDOWS:
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif MACOS:
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        base = os.environ.get("XDG_STATE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(os.path.expanduser(base), APP)


# --- private files ----------------------------------------------------------------------------
def make_private(fd: int, mode: int = 0o600) -> None:
    """Make an open file readable by its owner only.

    POSIX: the mode bits. Windows: nothing to do per file; a file inherits the ACL of its folder,
    and the lab's folders are in the user's profile (readable by the user, SYSTEM and
    administrators only) and created with mode 0o700, which Python 3.13 turns into an owner-only ACL.
    """
    if not WINDOWS:
        os.fchmod(fd, mode)


# --- file locks -------------------------------------------------------------------------------
# Locks are taken on a descriptor the caller opened, through filelock (pip's, virtualenv's and
# tox's lock): flock(2) on the whole file on POSIX, LockFileEx on byte 0 on Windows. Either way
# the operating system drops the lock when the holder dies, so a killed command never leaves a
# lab locked. Windows locks are mandatory: byte 0 of a held lock file cannot be read by others,
# so anything a holder writes for others to read goes after it (see `LOCK_NOTE_OFFSET`).
LOCK_NOTE_OFFSET = 1


def lock(fd: int, blocking: bool = True) -> bool:
    """Lock the file open as `fd` exclusively; False if `blocking` is off and another holds it."""
    from filelock import lock_descriptor

    return lock_descriptor(fd, blocking=blocking)


def unlock(fd: int) -> None:
    from filelock import unlock_descriptor

    unlock_descriptor(fd)


# --- background processes ---------------------------------------------------------------------
def spawn_detached(argv: Sequence[str], *, log_fd: int, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start `argv` in the background so it outlives this command and its terminal.

    POSIX: a new session (no controlling terminal, no SIGHUP when the terminal closes).
    Windows: no console and a process group of its own (Ctrl+C in the terminal does not reach it).
    Output goes to `log_fd`, input is empty, no other descriptor is inherited, and it runs in the
    root folder so it holds no folder of the user's open.
    """
    import subprocess

    options: dict = {"start_new_session": True}
    if WINDOWS:
        options = {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    return subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, close_fds=True,
        cwd=os.path.abspath(os.sep), env=None if env is None else dict(env), **options,
    )


def alive(pid: int) -> bool:
    """Whether process `pid` is still running (a zombie counts as gone).

    Not `os.kill(pid, 0)` on Windows: signal 0 is CTRL_C_EVENT there, sent to the process group.
    """
    if WINDOWS:
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a zombie still has a pid until its parent reaps it
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != b"Z"


def stop(pid: int, grace: float) -> bool:
    """Stop process `pid`: politely first where the platform allows, by force after `grace` seconds.

    POSIX: SIGTERM, then SIGKILL. Windows has no polite signal for a detached process without a
    window, so the process is ended with TerminateProcess right away. True once it is gone.
    """
    import signal
    import time

    signals = [signal.SIGTERM] if WINDOWS else [signal.SIGTERM, signal.SIGKILL]  # SIGTERM: TerminateProcess on Windows
    for signum in signals:
        try:
            os.kill(pid, signum)
        except OSError:  # gone already, or not ours to stop
            if not alive(pid):
                return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.05)
    return not alive(pid)


def _windows_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = ctypes.c_void_p
    process_query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied  # exists, but belongs to someone else
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(ctypes.c_void_p(handle), ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(ctypes.c_void_p(handle))
