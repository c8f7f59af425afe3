"""kubectl's own plugin policy: would the user's kuberc let kubectl run the lab's credential plugin?

kubectl reads a preferences file, `kuberc` (beta since 1.34), whose `credentialPluginPolicy` can
be `AllowAll` (or unset), `DenyAll`, or `Allowlist` with `credentialPluginAllowlist` entries
`{name: ...}`. With `DenyAll`, or an allowlist that does not name `lab`, kubectl refuses to run
the plugin and every command on a lab context fails before a token is asked for. This module
judges the file the way kubectl 1.37 does, so `lab doctor` can say so and show the lines to add.

Where kubectl looks (k8s.io/kubectl/pkg/kuberc/kuberc.go `DefaultGetPreferences`, and seen with
the real kubectl): `--kuberc <file>`, else `$KUBERC`, else `~/.kube/kuberc`. `KUBERC=off` or
`KUBECTL_KUBERC=false` (any case) turns it off. A missing or unreadable default file is ignored
(with a warning); an explicitly named one that is missing or holds no Preference stops every
kubectl command. The first YAML document that is a `kubectl.config.k8s.io` Preference counts.
How an allowlist matches (client-go's plugin policy check): the command as written, cleaned, or
its resolved path, must equal an entry or an entry's own resolved path (a bare name is looked up
on PATH; a path must already be normalised, and symlinks are not followed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Mapping

_GROUP = "kubectl.config.k8s.io/"
_VERSIONS_WITH_POLICY = ("v1beta1",)  # v1alpha1 Preferences decode, but have no policy fields
_POLICIES = ("", "AllowAll", "DenyAll", "Allowlist")

Finding = tuple[str, str]


def plugin_policy_problem(command: str, env: Mapping[str, str] | None = None, home: Path | None = None,
                          kuberc_flag: str | None = None) -> Finding | None:
    """Why kubectl would refuse to run `command` (the lab's absolute plugin path), or None.

    `env` and `home` default to this process's; `kuberc_flag` is a `--kuberc` value, if known.
    """
    env = os.environ if env is None else env
    if env.get("KUBECTL_KUBERC", "").lower() == "false" or (env.get("KUBERC") == "off" and not kuberc_flag):
        return None
    explicit = kuberc_flag or env.get("KUBERC") or ""
    path = Path(explicit) if explicit else (home or Path.home()) / ".kube" / "kuberc"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        if not explicit:
            return None  # kubectl ignores a default kuberc it cannot read
        return (f"kubectl is told to read its preferences from {path} (KUBERC or --kuberc), which it cannot "
                f"open ({exc.strerror}), so every kubectl command fails",
                "create that file, point KUBERC at an existing kuberc, or unset KUBERC")
    preference = _first_preference(text)
    if preference is None:
        if not explicit or not text.strip():
            return None
        return (f"kubectl finds no kubectl.config.k8s.io Preference in {path}, named by KUBERC or --kuberc, "
                "so every kubectl command fails",
                "start the file with 'apiVersion: kubectl.config.k8s.io/v1beta1' and 'kind: Preference'")
    policy = preference.get("credentialPluginPolicy") or ""
    allowlist = preference.get("credentialPluginAllowlist")
    names = None if allowlist is None else [str((entry or {}).get("name") or "") for entry in allowlist]
    broken = _policy_error(policy, names)
    if broken:
        return (f"kubectl refuses the credential plugin policy in {path} ({broken}), so every kubectl command "
                "fails", "fix the policy as below and run kubectl again:\n" + allow_snippet(command))
    if policy == "DenyAll":
        return (f"kubectl's {path} sets credentialPluginPolicy: DenyAll, so kubectl will not run the lab's "
                f"plugin {command}",
                "allow only the lab's plugin by replacing that line with:\n" + allow_snippet(command))
    if policy == "Allowlist" and not _allowed(command, names or [], env):
        return (f"kubectl's {path} allows only the credential plugins in its credentialPluginAllowlist, and "
                f"the lab's plugin {command} is not one of them",
                "add it to the list:\n" + allow_snippet(command, entry_only=True))
    return None


def allow_snippet(command: str, entry_only: bool = False) -> str:
    """The kuberc lines that let kubectl run `command` (an absolute path, as kubectl compares it)."""
    entry = f"  - name: {_yaml_scalar(command)}"
    if entry_only:
        return f"credentialPluginAllowlist:\n{entry}"
    return f"credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n{entry}"


def _yaml_scalar(text: str) -> str:
    # Windows paths (C:\...) and paths with spaces or YAML indicators stay one string when quoted.
    plain = text and all(c.isalnum() or c in "/._-+" for c in text)
    return text if plain else "'" + text.replace("'", "''") + "'"


def _first_preference(text: str) -> dict[str, Any] | None:
    """The first document kubectl would decode as a Preference, with only the policy fields kept."""
    import yaml  # not on the `lab token` path: only doctor asks

    for document in _documents(yaml, text):
        if not isinstance(document, dict) or document.get("kind") != "Preference":
            continue
        version = document.get("apiVersion")
        if not isinstance(version, str) or not version.startswith(_GROUP):
            continue
        if version[len(_GROUP):] not in _VERSIONS_WITH_POLICY:
            if version[len(_GROUP):] == "v1alpha1":
                return {}
            continue
        if _decodes(document):
            return {key: document.get(key) for key in ("credentialPluginPolicy", "credentialPluginAllowlist")}
    return None


def _documents(yaml: Any, text: str) -> list[Any]:
    """The YAML documents up to the first one that does not parse (kubectl reads them one by one)."""
    documents = []
    loader = yaml.safe_load_all(text)
    while True:
        try:
            documents.append(next(loader))
        except (StopIteration, yaml.YAMLError):
            return documents


def _decodes(document: dict[str, Any]) -> bool:
    """Whether the policy fields have the Go types kubectl decodes them into (else: no valid Preference)."""
    policy, allowlist = document.get("credentialPluginPolicy"), document.get("credentialPluginAllowlist")
    if policy is not None and not isinstance(policy, str):
        return False
    if allowlist is None:
        return True
    return isinstance(allowlist, list) and all(
        entry is None or (isinstance(entry, dict) and isinstance(entry.get("name") or "", str)) for entry in allowlist)


def _policy_error(policy: str, names: list[str] | None) -> str | None:
    """kubectl's validation of the policy and its allowlist: a policy that makes no sense is an error."""
    if policy not in _POLICIES:
        return f"unknown credentialPluginPolicy {policy!r}; it must be AllowAll, DenyAll or Allowlist"
    if policy != "Allowlist":
        return None if names is None else f"credentialPluginAllowlist is set, but the policy is {policy or 'unset'}"
    if names is None:
        return "the policy is Allowlist, but credentialPluginAllowlist is missing"
    if not names:
        return "the policy is Allowlist, but credentialPluginAllowlist is empty"
    for number, name in enumerate(names, start=1):
        if not name:
            return f"allowlist entry #{number} has no name"
        if os.path.normpath(name) != name:
            return f"allowlist entry {name!r} is not a normalised path ({os.path.normpath(name)!r})"
    return None


def _allowed(command: str, names: list[str], env: Mapping[str, str]) -> bool:
    configured = os.path.normpath(command)
    if configured in names:
        return True
    resolved = _look_path(configured, env)
    if resolved is None:
        return False  # kubectl: "cannot be resolved for credential plugin allowlist check"
    return resolved in names or resolved in {_look_path(name, env) for name in names}


def _look_path(name: str, env: Mapping[str, str]) -> str | None:
    """Go's exec.LookPath: a name with a separator is checked as is; a bare name is found on PATH."""
    if os.sep in name or (os.altsep and os.altsep in name):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    found = shutil.which(name, path=env.get("PATH", ""))
    return found if found and os.path.isabs(found) else None  # Go refuses a result relative to "."
