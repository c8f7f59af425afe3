"""A progress reporter that prints nothing, for driving providers directly in tests."""

from provisioner.progress import Reporter


class SilentReporter(Reporter):
    def __init__(self) -> None:
        super().__init__(quiet=True)
