"""What the user sees while a lab is built: one live line per step, one summary line when done.

minikube's restart takes minutes and a rate-limited Auth0 tenant makes the tool wait, so every
long wait shows what it is waiting for. `-q` keeps only errors. Steps and providers talk to a
`Reporter`, never to the terminal, so tests can run them silently.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class Step:
    """A running step: `update()` changes its live line, `summary` is printed when it ends."""

    def __init__(self, reporter: "Reporter", title: str) -> None:
        self.reporter = reporter
        self.title = title
        self.summary: str | None = None

    def update(self, text: str) -> None:
        self.reporter._live(f"{self.title}: {text}")


class Reporter:
    """Progress display. `quiet` prints nothing but what callers print themselves."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self._status = None
        self._console = None
        self.current: Step | None = None

    # ---------------------------------------------------------------------------------------------
    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def _live(self, text: str) -> None:
        if self.quiet:
            return
        if self._status is not None:
            self._status.update(_plain(text))

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        step = Step(self, title)
        outer, self.current = self.current, step
        started = time.monotonic()
        status = None
        if not self.quiet and outer is None and self.console.is_terminal:
            status = self.console.status(title)
            status.start()
            self._status = status
        try:
            yield step
        except BaseException:
            if not self.quiet:
                self._stop(status)
                self.console.print(f"[red]✗[/] {_plain(title)}")
            raise
        else:
            if not self.quiet:
                self._stop(status)
                elapsed = time.monotonic() - started
                took = f" [dim]({elapsed:.1f}s)[/]" if elapsed >= 1 else ""
                summary = f": {_plain(step.summary)}" if step.summary else ""
                self.console.print(f"[green]✓[/] {_plain(title)}{summary}{took}")
        finally:
            self.current = outer

    def _stop(self, status) -> None:
        if status is not None:
            status.stop()
            self._status = None

    def update(self, text: str) -> None:
        """Change the live line of the running step (for long loops and waits)."""
        if self.current is not None:
            self.current.update(text)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"  {_plain(text)}")

    def warn(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[yellow]![/] {_plain(text)}")

    def wait(self, seconds: float, reason: str) -> None:
        """Sleep visibly: the live line counts down `reason`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.update(f"{reason}; retrying in {left:.0f}s")
            time.sleep(min(left, 0.5))


def _plain(text: str) -> str:
    """Callers pass plain text: `[oidc:viewers]` is a list of groups, not a rich style."""
    from rich.markup import escape

    return escape(text)
