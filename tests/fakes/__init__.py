"""Test doubles for the systems that cannot run here: minikube and the kube-apiserver.

- `minikube.py` is a fake `minikube` executable: it keeps its state where minikube does
  (`$MINIKUBE_HOME`, `profiles/<p>/config.json`, the kubeconfig) and starts an apiserver double.
- `apiserver.py` is that double: an HTTPS server judging client certificates and OIDC id_tokens the
  way kube-apiserver does, and enforcing RBAC over objects it keeps across stop/start.
- `oidc_issuer.py` is a tiny HTTPS OIDC issuer (discovery + JWKS) that mints tokens for tests.
- `sandbox.py` is the `lab_env` fixture's object: a private HOME, kubeconfig and minikube home.
"""
