"""The pages a person sees: the built-in issuer's sign-in and device pages, the self-service page
(on the issuer and in `lab serve`), and messages.

Plain HTML forms that work without JavaScript, every input with a label, the lab's name in the
title and heading, and one message for a wrong password and an unknown user alike. Jinja2
escapes every value, so nothing a client put in a URL can become markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

HTML = "text/html; charset=utf-8"
# No script, no frames, no outside resources: the pages are forms and inline style only.
PAGE_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]


@dataclass
class Reply:
    """An HTTP answer of a page handler, for whichever server serves it."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = HTML

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f3f5f8;
       color: #1d2433; margin: 0; }
main { max-width: 26rem; margin: 4rem auto; background: #fff; border: 1px solid #d7dce5;
       border-radius: 10px; padding: 2rem 2.25rem; box-shadow: 0 2px 8px rgba(20, 30, 60, .06); }
.lab { text-transform: uppercase; letter-spacing: .08em; font-size: .8rem; color: #55607a; margin: 0; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; }
p { line-height: 1.5; }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
input[type=text], input[type=password] { width: 100%; box-sizing: border-box; font-size: 1rem;
       padding: .6rem .7rem; border: 1px solid #9aa3b5; border-radius: 6px; }
input:focus { outline: 3px solid #9cc0ff; border-color: #2f6fe4; }
button { margin-top: 1.5rem; width: 100%; font-size: 1rem; font-weight: 600; padding: .7rem;
         background: #2456c9; color: #fff; border: 0; border-radius: 6px; cursor: pointer; }
button:hover { background: #1b45a6; }
.error { background: #fdecec; border: 1px solid #e3a3a3; color: #8a1c1c; padding: .7rem .9rem;
         border-radius: 6px; }
.note { font-size: .9rem; color: #55607a; }
a.button { display: block; text-align: center; font-weight: 600; padding: .7rem; background: #2456c9;
           color: #fff; border-radius: 6px; text-decoration: none; }
button.secondary { background: #fff; color: #2456c9; border: 1px solid #2456c9; }
pre { background: #f3f5f8; border: 1px solid #d7dce5; border-radius: 6px; padding: .8rem; white-space: pre-wrap;
      overflow-wrap: anywhere;
      font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9rem; }
code, .code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.code { font-size: 1.4rem; letter-spacing: .12em; text-transform: uppercase; }
"""

LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ lab }}</title>
<style>{{ style }}</style>
</head>
<body>
<main>
<p class="lab">{{ lab }} · oidc-lab</p>
<h1>{{ title }}</h1>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% block content %}{% endblock %}
</main>
</body>
</html>
"""

LOGIN = """{% extends "layout" %}{% block content %}
<p>Sign in with your lab account to continue to <strong>{{ client }}</strong>.</p>
<form method="post" action="{{ action }}">
{% for name, value in hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}
<label for="username">Email or username</label>
<input type="text" id="username" name="username" value="{{ username }}" autocomplete="username"
       autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{% if footnote %}<p class="note">{{ footnote }}</p>{% endif %}
{% endblock %}
"""

DEVICE = """{% extends "layout" %}{% block content %}
<p>Enter the code that <code>lab token</code> printed in your terminal, then sign in to let it
fetch your Kubernetes token.</p>
<form method="post" action="{{ action }}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="{{ user_code }}" class="code"
       autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required
       {% if not user_code %}autofocus{% endif %}>
<label for="username">Email or username</label>
<input type="text" id="username" name="username" value="{{ username }}" autocomplete="username"
       autocapitalize="none" spellcheck="false" required {% if user_code %}autofocus{% endif %}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in and continue</button>
</form>
{% endblock %}
"""

MESSAGE = """{% extends "layout" %}{% block content %}
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>{% endfor %}
{% endblock %}
"""

ME = """{% extends "layout" %}{% block content %}
<p>Signed in as <strong>{{ name }}</strong>{% if display != name %} ({{ display }}){% endif %}.</p>
{% if context %}
<p><a class="button" href="/me/kubeconfig" download="{{ file_name }}">Download your kubeconfig</a></p>
<p>It holds the lab's cluster, your context <code>{{ context }}</code>{% if namespace %} in the namespace
<code>{{ namespace }}</code>{% endif %}, and a user that signs you in by itself (no password inside).
{% if install_hint %}{{ install_hint }}{% endif %} Then try:</p>
<pre>export KUBECONFIG=~/Downloads/{{ file_name }}
kubectl auth whoami
kubectl get pods</pre>
{% else %}
<p class="error" role="alert">There is no kubeconfig for you yet: ask the instructor to run <code>lab up</code>.</p>
{% endif %}
<form method="post" action="/me/signout"><button type="submit" class="secondary">Sign out</button></form>
{% endblock %}
"""

_pages = Environment(loader=DictLoader({"layout": LAYOUT, "login": LOGIN, "device": DEVICE, "message": MESSAGE,
                                        "me": ME}),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def render(page: str, lab: str, title: str, error: str | None = None, **values: Any) -> bytes:
    """One page as UTF-8 HTML; `lab` names the lab in the title and above the heading."""
    return _pages.get_template(page).render(lab=lab, title=title, error=error, style=STYLE, **values).encode()
