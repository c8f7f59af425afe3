"""Running `minikube <args>`: the one door every minikube call goes through.

Arguments are passed as a list (never a shell string) through `sh`; a failure or a timeout
becomes a `ClusterError` naming the command and minikube's last line. Windows, where `sh` does
not run, will get its own branch here and nowhere else.
"""

from __future__ import annotations

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
        import sh

        try:
            result = self._minikube()(*args, _ok_code=list(ok_codes), _return_cmd=True, _timeout=timeout,
                                      _err_to_out=False, _tty_out=False)
        except sh.ErrorReturnCode as exc:
            raise ClusterError(
                f"`minikube {' '.join(args[:3])}` failed (exit {exc.exit_code}): {_last_line(exc.stderr or exc.stdout)}",
                f"see `minikube logs -p {self.profile}`; fix the cause and run the command again",
            ) from None
        except sh.TimeoutException:
            raise ClusterError(f"`minikube {args[0]}` did not finish within {timeout:.0f} seconds",
                               f"check the cluster with `minikube status -p {self.profile}`") from None
        return Completed(result.exit_code, str(result), _text(result.stderr))


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _last_line(text: bytes | str | None) -> str:
    lines = [line.strip() for line in _text(text).splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
