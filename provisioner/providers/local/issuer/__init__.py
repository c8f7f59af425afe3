"""The built-in OIDC issuer: a real HTTPS identity provider the tool runs for labs with no IdP account.

The kube-apiserver trusts it like any other issuer (discovery, JWKS, RS256 id_tokens), and the
credential plugin gets tokens from it with the password and refresh_token grants. It runs as a
background process (`python -m provisioner.providers.local.issuer serve --dir <lab>/issuer`) that reads everything
from that folder:

- `files`   the folder's layout and the documents the provider writes for the server
- `hashing` salted password and secret hashes (nothing in the folder is plaintext)
- `keys`    the lab's CA, TLS certificate and token signing key, made once and kept
- `server`  the HTTPS endpoints, with Authlib doing the OAuth 2 protocol work
- `process` start, find, reuse and stop the background process
"""
