"""A cached `lab token` against a bare `python.exe -c pass`, both started as kubectl starts them.

Run by `OIDC_LAB_WINDOWS_BENCH=<runs> scripts/test-windows` under the Windows interpreter:
`python token_bench.py LAB_EXE RUNS`. The lab is a folder with a credentials file and a token
cache that is still valid, which is all a cache hit reads.
"""

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

lab_exe, runs = sys.argv[1], int(sys.argv[2])
home = tempfile.mkdtemp(prefix="oidc-lab bench ")
root = os.path.join(home, "demo")
os.makedirs(os.path.join(root, "tokens"))
with open(os.path.join(root, "credentials.json"), "w") as credentials:
    credentials.write("{}")
time.sleep(0.05)  # the cache must be younger than the credentials
expiry = int(time.time()) + 3600
part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()  # noqa: E731
token = f"{part({'alg': 'none'})}.{part({'exp': expiry, 'sub': 'alice'})}.sig"
with open(os.path.join(root, "tokens", "alice.tokens"), "w") as cache:
    cache.write(f"v1 {expiry}\n{token}\n\n")

env = dict(os.environ, OIDC_LAB_HOME=home,
           KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}')
plugin = [lab_exe, "token", "--lab", "demo", "--user", "alice"]
bare = [sys.executable, "-c", "pass"]
# the same command without lab.exe's launcher (which starts python.exe as a second process)
direct = [sys.executable, "-c", "import sys; from provisioner.entry import main; sys.argv[0] = 'lab'; sys.exit(main())",
          *plugin[1:]]
answer = subprocess.run(plugin, env=env, capture_output=True, text=True)
assert answer.returncode == 0 and token in answer.stdout, answer.stdout + answer.stderr


def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


times = {"plugin": [], "bare": [], "direct": []}
for _ in range(runs):
    times["plugin"].append(timed(plugin))
    times["bare"].append(timed(bare))
    times["direct"].append(timed(direct))
plugin_ms, bare_ms = statistics.median(times["plugin"]), statistics.median(times["bare"])
print(f"lab token (cached):  median {plugin_ms:.0f} ms over {runs} runs  ({lab_exe})")
print(f"python.exe -c pass:  median {bare_ms:.0f} ms")
print(f"the same in python.exe without the launcher: median {statistics.median(times['direct']):.0f} ms")
print(f"ratio: {plugin_ms / bare_ms:.2f}")
