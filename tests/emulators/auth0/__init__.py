"""An Auth0 tenant emulator (Management API v2 + Authentication API) for tests.

    with Auth0Emulator() as auth0:             # or the `auth0_emulator` fixture (fixtures.py)
        management = auth0.management_client()  # the real auth0-python ManagementClient

What a test reaches for:
- identity: `domain` ("127.0.0.1:<port>"), `base_url`, `issuer` ("https://<domain>/"),
  `m2m_client_id`, `m2m_client_secret`, `ca_pem`, `ca_file` (set by `write_ca_bundle`/the fixture);
- options: `scopes` (default `DEFAULT_SCOPES`), `rate`/`burst` (rate limit, off by default),
  `authentication_limits` (the free tenant's Authentication API limits on `/oauth/token`, off by default),
  `job_delay`, `search_lag`, `management_token_ttl`, `extra_claims(profile, client) -> dict`,
  `require_enabled_connection_for_users`; at run time `set_scopes`, `set_rate_limit`,
  `grant_management_api`, `expire_management_tokens`, `set_default_directory`;
- faults: `inject(method, path_regex, "429" | "500" | "timeout" | "drop_after_act" | Fault, times=1)`;
- observation: `requests` (`RecordedRequest`: method, path, query, status, timestamp, fault),
  `writes` (Counter keyed "POST /api/v2/clients", "PATCH /api/v2/connections/{id}/clients", ...),
  `count(method, path_regex)`, `snapshot()` (tenant data, comparable with ==), `reset_observations()`;
- seeding: `seed_client`, `seed_connection`, `enable_client`, `seed_user`, `run_jobs`,
  `client_by_name`, `user_by_email`, and `tenant` itself.
"""

from .faults import Fault
from .server import DEFAULT_SCOPES, M2M_NAME, Auth0Emulator, RecordedRequest
from .tenant import UPA

__all__ = ["Auth0Emulator", "DEFAULT_SCOPES", "Fault", "M2M_NAME", "RecordedRequest", "UPA"]
