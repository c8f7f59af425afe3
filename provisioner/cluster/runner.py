"""Running `minikube <args>`: the one door every minikube call goes through.

Arguments are passed as a list, never a shell string: through `sh` on POSIX systems, and through
`subprocess` on Windows, where `sh` does not run (it refuses to import there, after asking WMI
for the platform) and minikube is the `minikube.exe` found on PATH. Either way a failure or a
timeout becomes a `ClusterError` naming the command and minikube's last line.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from ..errors import ClusterError

INSTALL_HINT = "install minikube (https://minikube.sigs.k8s.io/docs/start/) and make sure `minikube` is on PATH"


class Completed(NamedTuple):
    exit_code: int
    stdout: str
    stderr: str


class MinikubeRunner:
    """Runs minikube for one profile (named in the hints of its errors)."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._command = None

    def _minikube(self):
        if self._command is None:
            import sh

            try:
                self._command = sh.Command("minikube")
            except sh.CommandNotFound:
                raise ClusterError("minikube is not installed: no `minikube` on PATH", INSTALL_HINT) from None
        return self._command

    def __call__(self, *args: str, ok_codes: tuple[int, ...] = (0,), timeout: float | None = None) -> Completed:
        """Run `minikube *args`; an exit code outside `ok_codes` or a timeout is a ClusterError."""
        if sys.platform == "win32":
            return self._run_exe(args, ok_codes, timeout)
        import sh

        try:
            result = self._minikube()(*args, _ok_code=list(ok_codes), _return_cmd=True, _timeout=timeout,
                                      _err_to_out=False, _tty_out=False)
        except sh.ErrorReturnCode as exc:
            raise self._failed(args, exc.exit_code, exc.stderr or exc.stdout) from None
        except sh.TimeoutException:
            raise self._too_slow(args, timeout) from None
        return Completed(result.exit_code, str(result), _text(result.stderr))

    def _run_exe(self, args: tuple[str, ...], ok_codes: tuple[int, ...], timeout: float | None) -> Completed:
        """Windows: `minikube.exe` through subprocess."""
        import shutil
        import subprocess

        if self._command is None:
            self._command = shutil.which("minikube")  # PATHEXT order finds minikube.exe, as Windows runs it
            if self._command is None:
                raise ClusterError("minikube is not installed: no `minikube.exe` on PATH", INSTALL_HINT)
        try:
            # minikube, a Go program, writes UTF-8 whatever the console's code page
            result = subprocess.run([self._command, *args], stdin=subprocess.DEVNULL, capture_output=True,
                                    encoding="utf-8", errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._too_slow(args, timeout) from None
        except OSError as exc:
            raise ClusterError(f"minikube could not be started: {exc.strerror or exc}", INSTALL_HINT) from None
        if result.returncode not in ok_codes:
            raise self._failed(args, result.returncode, result.stderr or result.stdout)
        return Completed(result.returncode, result.stdout, result.stderr)

    def _failed(self, args: tuple[str, ...], exit_code: int, output: bytes | str | None) -> ClusterError:
        return ClusterError(
            f"`minikube {' '.join(args[:3])}` failed (exit {exit_code}): {_last_line(output)}",
            f"see `minikube logs -p {self.profile}`; fix the cause and run the command again",
        )

    def _too_slow(self, args: tuple[str, ...], timeout: float | None) -> ClusterError:
        return ClusterError(f"`minikube {args[0]}` did not finish within {timeout or 0:.0f} seconds",
                            f"check the cluster with `minikube status -p {self.profile}`")


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _last_line(text: bytes | str | None) -> str:
    lines = [line.strip() for line in _text(text).splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
