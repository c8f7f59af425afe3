"""The built-in local issuer: the provider (`provider`), the HTTPS issuer process it runs
(`issuer/`) and the private CA that issuer serves with (`pki`).

Empty on purpose: the fake minikube and the emulators import `pki` alone and start fast.
"""
