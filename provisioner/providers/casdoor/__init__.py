"""Casdoor as the lab's identity provider (`provider: casdoor`).

- payloads.py: pure functions, lab.yaml to Casdoor payloads and Casdoor objects to state;
- api.py: the thin HTTP layer over Casdoor's REST API, errors turned into one sentence each;
- provider.py: the step itself: look up, create or adopt, record; and its teardown.
"""

from .provider import CasdoorProvider

PROVIDER = CasdoorProvider

__all__ = ["CasdoorProvider", "PROVIDER"]
