"""The Auth0 provider: payloads (pure), api (the SDK, paced and idempotent), provider (the step)."""

from .provider import Auth0Provider

PROVIDER = Auth0Provider

__all__ = ["Auth0Provider", "PROVIDER"]
