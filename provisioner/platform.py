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
    from collections.abc import Callable, Mapping, Sequence


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


def replace(source: str | os.PathLike, target: str | os.PathLike, patience: float = 2.0) -> None:
    """`os.replace`, waiting out a reader on Windows.

    Windows refuses to rename over a file another process has open (a `lab token` reading the
    token cache while another writes it): PermissionError, gone a moment later. As pip and
    Mercurial do, try again briefly before giving up. POSIX renames over open files.
    """
    if not WINDOWS:
        os.replace(source, target)
        return
    import time

    deadline = time.monotonic() + patience
    delay = 0.005
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


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


def stop(pid: int, grace: float, ask: Callable[[], object] | None = None,
         running: Callable[[int], bool] | None = None) -> bool:
    """Stop process `pid`: politely first, by force after `grace` seconds. True once it is gone.

    POSIX: SIGTERM, then SIGKILL. Windows has no polite signal for a detached process without a
    console, so `ask` (the program's own way of being asked to stop, such as a file it watches)
    is the polite step there, and TerminateProcess the forced one (what `os.kill` does on Windows
    with any signal). Without `ask`, a Windows process is ended right away. `running` replaces
    `alive` for a caller that can tell better (its own child, which it reaps).
    """
    import signal
    import time

    running = running or alive

    if WINDOWS:
        steps: list[Callable[[], object]] = [ask] if ask is not None else []
        steps.append(lambda: os.kill(pid, signal.SIGTERM))
    else:
        steps = [lambda: os.kill(pid, signal.SIGTERM), lambda: os.kill(pid, signal.SIGKILL)]
    for step in steps:
        try:
            step()
        except OSError:  # gone already, or not ours to stop
            if not running(pid):
                return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not running(pid):
                return True
            time.sleep(0.05)
    return not running(pid)


def command_line(pid: int) -> list[str] | None:
    """The argv process `pid` was started with, or None where the platform will not say.

    Proves a pid from a pid file still runs the program that wrote it (pids are reused). Linux:
    `/proc/<pid>/cmdline`; Windows: the process's command line (NtQueryInformationProcess, as
    Process Explorer reads it) split by the system's own rules; macOS: None (no /proc).
    """
    if WINDOWS:
        return _windows_command_line(pid)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            raw = cmdline.read()
    except FileNotFoundError:
        return [] if os.path.isdir("/proc/self") else None  # Linux: the process is gone
    except OSError:
        return None
    return [os.fsdecode(arg) for arg in raw.split(b"\0")[:-1]]


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


def _windows_command_line(pid: int) -> list[str] | None:
    """Read the command line from the process's PEB, as psutil does where NtQueryInformationProcess's
    ProcessCommandLineInformation is missing (before Windows 8.1, and wine 8): one way for all."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    ntdll = ctypes.WinDLL("ntdll")
    shell32 = ctypes.WinDLL("shell32")
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.ReadProcessMemory.argtypes = [wintypes.HANDLE, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_size_t)]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    ntdll.NtQueryInformationProcess.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.ULONG,
                                                ctypes.POINTER(wintypes.ULONG)]
    ntdll.NtQueryInformationProcess.restype = wintypes.LONG
    shell32.CommandLineToArgvW.restype = ctypes.POINTER(wintypes.LPWSTR)

    class BasicInformation(ctypes.Structure):  # PROCESS_BASIC_INFORMATION
        _fields_ = [("ExitStatus", ctypes.c_void_p), ("PebBaseAddress", ctypes.c_void_p),
                    ("Reserved", ctypes.c_void_p * 2), ("UniqueProcessId", ctypes.c_void_p),
                    ("Reserved3", ctypes.c_void_p)]

    class UnicodeString(ctypes.Structure):  # UNICODE_STRING
        _fields_ = [("Length", wintypes.USHORT), ("MaximumLength", wintypes.USHORT), ("Buffer", ctypes.c_void_p)]

    # PEB.ProcessParameters and RTL_USER_PROCESS_PARAMETERS.CommandLine, in a 64-bit process
    process_parameters_offset, command_line_offset = 0x20, 0x70
    query_information, vm_read, invalid_parameter, access_denied = 0x400, 0x10, 87, 5
    handle = kernel32.OpenProcess(query_information | vm_read, False, pid)
    if not handle:
        error = ctypes.get_last_error()
        # no such process, or one this user may not read (so not one this user started)
        return [] if error in (invalid_parameter, access_denied) else None

    def read(address: int, into: ctypes._CData) -> bool:
        done = ctypes.c_size_t(0)
        return bool(kernel32.ReadProcessMemory(handle, address, ctypes.byref(into), ctypes.sizeof(into),
                                               ctypes.byref(done)))

    try:
        basic, parameters, text = BasicInformation(), ctypes.c_void_p(), UnicodeString()
        if (ctypes.sizeof(ctypes.c_void_p) != 8
                or ntdll.NtQueryInformationProcess(handle, 0, ctypes.byref(basic), ctypes.sizeof(basic), None)
                or not read(basic.PebBaseAddress + process_parameters_offset, parameters)
                or not parameters.value or not read(parameters.value + command_line_offset, text)):
            return None
        characters = ctypes.create_unicode_buffer(text.Length // 2 + 1)
        if text.Length and not read(text.Buffer, (ctypes.c_char * text.Length).from_buffer(characters)):
            return None
        line = characters.value
    finally:
        kernel32.CloseHandle(handle)
    count = ctypes.c_int(0)
    argv = shell32.CommandLineToArgvW(line, ctypes.byref(count)) if line else None
    if not argv:
        return None
    try:
        return [argv[i] for i in range(count.value)]
    finally:
        kernel32.LocalFree(argv)
