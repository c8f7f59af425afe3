"""The issuer as a background process: started by `lab up`, found again by later runs, stopped by `lab down`.

A later `lab` command is a different process, so everything it needs to find the issuer is on
disk: the pid file names the process, `serving.json` what it was started with (port, address,
issuer URL), and the process's command line (`platform.command_line`; where the platform will not
tell, the issuer's own health answer) proves the pid still belongs to this lab's issuer and not to
a process that inherited the number. A command killed after starting the issuer but before writing
those files leaves an issuer nobody recorded; it is found again by asking the port: only this lab's
issuer answers its health check with a certificate of the lab's CA, and the pid it names must run
this folder's issuer. Such an issuer is adopted (its files written), never mistaken for another
program. The issuer detaches (`platform.spawn_detached`) so it outlives the command that started
it (`lab up`, or `lab token` after a reboot); its output goes to a 0600 log file in the issuer
folder. It is asked to stop with SIGTERM on POSIX and, on Windows, which has no such signal for a
process without a console, with a stop-request file it watches; either way it closes its socket
and logs its exit, and it is ended by force only if it does not go within the grace period.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from .... import platform
from ....errors import ProviderError
from ....fsutil import read_json, write_json, write_private
from .files import IssuerFiles, IssuerSettings, host_address

START_TIMEOUT = 10.0
STOP_GRACE = 5.0
ISSUER_MODULE = "provisioner.providers.local.issuer"

# Popen objects of issuers this process started, kept so they are reaped (no zombie, no warning).
_children: dict[int, subprocess.Popen] = {}


def port_free(listen: str, port: int) -> bool:
    """Whether the issuer could bind `listen:port` now (TIME_WAIT leftovers do not count)."""
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((listen, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise ProviderError(
                f"the built-in issuer cannot listen on {listen}:{port}: {exc.strerror}",
                "set local.listen to an address of this machine (0.0.0.0 for all) and local.port to a port above 1023",
            ) from None
    return True


def _alive(pid: int) -> bool:
    """True while `pid` runs; reaps it if it is our child, and counts a zombie as dead."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
            return False
    return platform.alive(pid)


def stop_request(folder: Path) -> Path:
    """The file whose appearance asks the issuer serving `folder` to stop (Windows: no SIGTERM there)."""
    return folder / "issuer.stop"


def import_root() -> str:
    """The folder holding the `provisioner` package, for a child interpreter started elsewhere."""
    return str(Path(__file__).resolve().parents[4])


def _tail(path: Path, lines: int = 5) -> str:
    try:
        with open(path, errors="replace") as handle:
            last = deque((line.rstrip() for line in handle if line.strip()), maxlen=lines)
    except OSError:
        return "(no log)"
    return " | ".join(last) or "(empty log)"


class IssuerProcess:
    """The background issuer of one lab's issuer folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.files = IssuerFiles(self.folder)

    # --- finding it ---------------------------------------------------------------------------
    def _recorded_pid(self) -> int | None:
        try:
            return int(self.files.pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def serving(self) -> dict[str, Any]:
        """What the issuer was started with: port, listen, issuer (empty if unknown)."""
        try:
            return read_json(self.files.serving) or {}
        except ValueError:
            return {}

    def _is_ours(self, pid: int) -> bool:
        if not _alive(pid):
            return False
        if pid in _children:
            return True  # started by this very process
        argv = platform.command_line(pid)
        if argv is None:  # the platform will not say (macOS): ask the issuer, whose TLS only the lab CA signs
            serving = self.serving()
            port = serving.get("port")
            answer = self.health(host_address(serving.get("listen") or "127.0.0.1"), port) if port else None
            return bool(answer) and answer.get("pid") == pid
        return ISSUER_MODULE in argv and str(self.folder) in argv

    @property
    def pid(self) -> int | None:
        """The pid of this lab's running issuer, or None."""
        pid = self._recorded_pid()
        return pid if pid is not None and self._is_ours(pid) else None

    def running(self) -> bool:
        return self.pid is not None

    def _unrecorded(self, address: str, port: int) -> tuple[int, dict[str, Any]] | None:
        """This lab's issuer answering on `port` without a pid file: only it holds a certificate of the
        lab's CA, and the pid it names must run this folder's issuer. (pid, health answer) or None."""
        answer = self.health(address, port)
        pid = answer.get("pid") if answer else None
        return (pid, answer) if isinstance(pid, int) and self._is_ours(pid) else None

    def find(self, address: str, port: int) -> int | None:
        """This lab's running issuer, recorded or not (read-only: `lab status`)."""
        if self.pid is not None:
            return self.pid
        found = self._unrecorded(address, port)
        return found[0] if found else None

    def adopt(self, address: str, port: int) -> int | None:
        """Like `find`, and record an unrecorded issuer (its starter was killed) so it is reused or stopped."""
        if self.pid is not None:
            return self.pid
        found = self._unrecorded(address, port)
        if found is None:
            return None
        pid, answer = found
        write_private(self.files.pid, f"{pid}\n")
        write_json(self.files.serving, {"port": answer.get("port", port), "listen": answer.get("listen"),
                                        "issuer": answer.get("issuer")})
        return pid

    def health(self, address: str, port: int) -> dict[str, Any] | None:
        """The issuer's health answer over HTTPS, trusting only the lab CA; None if nothing good answers."""
        try:
            context = ssl.create_default_context(cafile=str(self.files.ca_cert))
        except (OSError, ssl.SSLError):
            return None
        connection = http.client.HTTPSConnection(address, port, context=context, timeout=2)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            if response.status != 200:
                return None
            return json.loads(response.read())
        except (OSError, ssl.SSLError, ValueError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    # --- changing it --------------------------------------------------------------------------
    def check_port(self, listen: str, port: int) -> None:
        """Refuse a port another program holds; our own issuer on it is fine (it is reused or restarted)."""
        if self.serving().get("port") == port and self.running():
            return
        if not port_free(listen, port) and self.find(host_address(listen), port) is None:
            raise ProviderError(
                f"port {port} is already in use by another program",
                "set local.port in lab.yaml to a free port",
            )

    def up_to_date(self, settings: IssuerSettings) -> bool:
        """Running, serving exactly these settings' issuer, port and address, and answering."""
        pid, serving = self.pid, self.serving()
        if pid is None:
            return False
        if (serving.get("port"), serving.get("listen"), serving.get("issuer")) != (
            settings.port, settings.listen, settings.issuer,
        ):
            return False
        answer = self.health(settings.host_address, settings.port)
        return bool(answer) and answer.get("pid") == pid and answer.get("issuer") == settings.issuer

    def ensure(self, settings: IssuerSettings, restart: bool = False,
               progress: Callable[[str], None] | None = None) -> tuple[int, bool]:
        """Reuse the running issuer if it serves `settings`, else (re)start it. Returns (pid, started)."""
        self.adopt(settings.host_address, settings.port)
        if not restart and self.up_to_date(settings):
            pid = self.pid
            assert pid is not None
            return pid, False
        if self.running():
            if progress:
                progress("restarting the built-in issuer")
            self.stop()
        return self.start(settings, progress), True

    def ensure_running(self, settings: IssuerSettings, timeout: float = START_TIMEOUT) -> tuple[int, bool]:
        """Start the issuer unless this lab's issuer already runs (as is); for `lab token` after a reboot.

        Under the folder's start lock, so parallel kubectl calls start it once: the first starts it,
        the others find it running. Returns (pid, started)."""
        with self._start_lock():
            pid = self.adopt(settings.host_address, settings.port)
            if pid is not None:
                return pid, False
            return self._start(settings, None, timeout), True

    def _start_lock(self):
        from ....credential.lock import FileLock  # only where an issuer may be started

        return FileLock(str(self.files.start_lock))

    def start(self, settings: IssuerSettings, progress: Callable[[str], None] | None = None,
              timeout: float = START_TIMEOUT) -> int:
        """Start the issuer detached and wait until it answers over HTTPS."""
        with self._start_lock():
            return self._start(settings, progress, timeout)

    def _start(self, settings: IssuerSettings, progress: Callable[[str], None] | None,
               timeout: float) -> int:
        self.check_port(settings.listen, settings.port)
        if progress:
            progress(f"starting the built-in issuer on port {settings.port}")
        log_fd = os.open(self.files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The child runs in the root folder, so an uninstalled checkout is found through PYTHONPATH.
        # (Windows' embeddable interpreter ignores it and reads its ._pth file, which names the
        # folder oidc-lab is installed in: the same import root.)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (import_root(), env.get("PYTHONPATH")) if p)
        stop_request(self.folder).unlink(missing_ok=True)
        try:
            platform.make_private(log_fd)
            child = platform.spawn_detached(
                [sys.executable, "-m", ISSUER_MODULE, "serve", "--dir", str(self.folder)], log_fd=log_fd, env=env,
            )
        finally:
            os.close(log_fd)
        _children[child.pid] = child
        write_private(self.files.pid, f"{child.pid}\n")
        write_json(self.files.serving, {"port": settings.port, "listen": settings.listen, "issuer": settings.issuer})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                break
            answer = self.health(settings.host_address, settings.port)
            if answer and answer.get("pid") == child.pid:
                return child.pid
            time.sleep(0.05)
        exited = child.poll() is not None
        self.stop()
        why = "exited" if exited else f"did not answer within {timeout:.0f} s"
        raise ProviderError(
            f"the built-in issuer {why} on port {settings.port}; its log ends with: {_tail(self.files.log)}",
            f"read {self.files.log}, fix the cause and run `lab up` again",
        )

    def stop(self, grace: float = STOP_GRACE) -> bool:
        """Ask the issuer to stop, end it after `grace` seconds; one already gone is fine. True if one was stopped."""
        pid = self._recorded_pid()
        stopped = False
        if pid is not None and self._is_ours(pid):
            stopped = True
            platform.stop(pid, grace, ask=lambda: write_private(stop_request(self.folder), f"{pid}\n"), running=_alive)
        stop_request(self.folder).unlink(missing_ok=True)
        self.files.pid.unlink(missing_ok=True)
        self.files.serving.unlink(missing_ok=True)
        return stopped
