"""A regular (non-editable) install of this checkout, as README's first command makes one.

The benchmarks that time what kubectl starts must not measure an editable install: its import
hook runs at every interpreter start. This builds a wheel of the checkout, installs it into a
fresh venv (pip compiles the bytecode, as it does for users) and lets that venv find the
dependencies of the development venv through a path entry (not through its `.pth` hooks), so
nothing is downloaded and the package itself is only the installed copy.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quiet(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def regular_install(folder: Path) -> Path:
    """The venv's `bin` folder (its python and `lab`), in `folder`."""
    wheels, venv = folder / "wheel", folder / "venv"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _quiet([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)])
    _quiet([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    bin_dir = venv / "bin"
    wheel = next(wheels.glob("oidc_lab-*.whl"))
    _quiet([*pip, "--python", str(bin_dir / "python"), "install", "--no-deps", str(wheel)])
    purelib = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "oidc_lab_bench_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return bin_dir
