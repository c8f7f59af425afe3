"""What the kube-apiserver does with an id_token: its settings, a JWT reader and its rules.

Kept import-free: `lab token` reads token expiry through `provisioner.oidc.jwt` on every kubectl
call, so nothing here may pull in more than the standard library.
"""
