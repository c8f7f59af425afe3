"""Test lane only (copied beside python.exe by scripts/test-windows): what wine 8 lacks.

Real Windows never loads this file. Each workaround makes Python take the path it already has for
Windows versions without the missing API, so the code under test runs as it would there:

- Python 3.13's `platform` asks WMI (`_wmi`) for the Windows version, and wine 8's WMI aborts the
  process in propsys.dll's unimplemented VariantToString. The kubernetes client calls
  `platform.system()` when imported. Here WMI answers with the OSError `platform` already handles
  (it then reads the version from the registry).
- Python 3.13's `shutil.copy2` copies with CopyFile2 when `_winapi` has it (Windows 8 and later);
  wine 8 lacks it and aborts. Without the attribute shutil falls back to its portable copy.
"""

import sys
import types
import _winapi


def _no_wmi(query):
    raise OSError("WMI is not available (test lane: wine)")


sys.modules["_wmi"] = types.SimpleNamespace(exec_query=_no_wmi)
if hasattr(_winapi, "CopyFile2"):
    del _winapi.CopyFile2
