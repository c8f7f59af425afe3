"""The steps of a lab, in the order `lab up` runs them (`lab down` runs them in reverse).

Adding a step is one new module with a `Step` subclass and one entry in `STEPS`.
"""

from __future__ import annotations

from .base import Change, Step
from .cluster import ClusterStep
from .context import LabContext
from .handouts import RoomStep
from .identity import IdentityStep
from .kubeconfig import KubeconfigStep
from .rbac import RbacStep
from .verify import VerifyStep

STEPS: tuple[Step, ...] = (IdentityStep(), ClusterStep(), RbacStep(), KubeconfigStep(), VerifyStep(), RoomStep())

__all__ = ["STEPS", "Change", "LabContext", "Step"]
