"""Test doubles for the systems that cannot run here: minikube and the kube-apiserver.

- `minikube.py` is a fake `minikube` executable: it keeps its state where minikube does
  (`$MINIKUBE_HOME`, `profiles/<p>/config.json`, the kubeconfig) and starts an apiserver double.
- `apiserver.py` is that double: an HTTPS server judging client certificates and OIDC id_tokens the
  way kube-apiserver does (`apiserver_oidc.py`, with PyJWT), enforcing RBAC (`apiserver_rbac.py`)
  over objects it keeps across stop/start (`apiserver_store.py`); it reads kubectl's protobuf
  request bodies (`protobuf_bodies.py`) and answers `kubectl get` with tables (`apiserver_tables.py`).
- `oidc_issuer.py` is a tiny HTTPS OIDC issuer (discovery + JWKS) that mints tokens for tests.
- `sandbox.py` is the `lab_env` fixture's object: a private HOME, kubeconfig and minikube home.

Knobs (environment variables, all optional):
- `FAKE_MINIKUBE_CALLS`: file that receives every minikube argv as a JSON line (set by `lab_env`).
- `FAKE_MINIKUBE_FAIL=start=80,stop=1`, `FAKE_MINIKUBE_DELAY=start=2.5`: inject failures/slowness.
- `FAKE_APISERVER_OIDC_RETRY_SECONDS`: OIDC discovery retry interval (real: 10; `lab_env`: 0.2).
- `FAKE_APISERVER_WATCH_PID`: the double exits when this process is gone (`lab_env`: the test run).
- `FAKE_NODE_HOSTS=name=127.0.0.1,...`: extra host names the node resolves to the host. Inside the
  node, 127.0.0.1/localhost is the node itself (unreachable issuer), as with a real minikube;
  `host.minikube.internal` is the host.
- `--extra-config=apiserver.v=3` makes the double log every request (as the real one does).
"""
