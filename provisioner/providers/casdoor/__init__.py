"""Casdoor as the lab's identity provider (`provider: casdoor`).

- payloads.py: pure functions, lab.yaml to Casdoor payloads and Casdoor objects to facts;
- records.py: the typed records the lab's state keeps of its Casdoor objects (no secrets);
- api.py: the thin httpx layer over Casdoor's REST API, errors turned into one sentence each;
- common.py: the run's context, create-once and delete-for-sure, shared by the object modules;
- organization.py, application.py, groups.py, users.py: one module per Casdoor object, each with
  its plan, ensure and teardown;
- checks.py: the issuer and token checks kube-apiserver would make;
- provider.py: the step itself: settings, the order of the objects, the token client.
"""

from .provider import CasdoorProvider

PROVIDER = CasdoorProvider

__all__ = ["CasdoorProvider", "PROVIDER"]
