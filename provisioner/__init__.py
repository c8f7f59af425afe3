"""oidc-lab: make a Kubernetes cluster trust an OpenID Connect identity provider in one command.

Kept empty on purpose: `lab token` imports this package on every kubectl call.
"""

__version__ = "0.1.0"
