"""The built-in OIDC issuer: a real HTTPS identity provider the tool runs for labs with no IdP account.

The kube-apiserver trusts it like any other issuer (discovery, JWKS, RS256 id_tokens), and the
credential plugin gets tokens from it with the password and refresh_token grants. It runs as a
background process (`python -m provisioner.providers.local.issuer serve --dir <lab>/issuer`) that reads everything
from that folder:

- `files`   the folder's layout and the documents the provider writes for the server
- `hashing` salted password and secret hashes (nothing in the folder is plaintext)
- `keys`    the lab's CA, TLS certificate and token signing key, made once and kept
- `directory`      the lab's client and users as the grants see them, reloaded when the files change
- `discovery`      what the issuer publishes: the discovery document and the id_token's claims
- `grants`         the token endpoint's client and grants, with Authlib doing the OAuth 2 protocol
- `guard`          the brute-force rule: slow down, then lock out, repeated failed sign-ins
- `refresh_tokens` the refresh tokens handed out, by digest, kept across restarts
- `server`         the HTTPS plumbing: routes, form bodies, TLS, logging, the serve loop
- `process`        start, find, adopt, reuse and stop the background process
"""
