"""The `lab` command line: up, plan, down, status, doctor (and token, dispatched early by entry.py).

Every user-fixable failure arrives here as a `LabError` and leaves as two lines on stderr,
`error: ...` and `hint: ...`, with a non-zero exit and no traceback (unless --debug).

The parser is the standard library's argparse: click's import alone took about four times an
interpreter's start, and `lab --help` should answer in well under three.
"""

from __future__ import annotations

import argparse
import sys
from .errors import LabError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from .config import LabConfig
    from .progress import Reporter

# The config models (pydantic), the progress display (rich) and the steps are imported by the
# commands that use them: `lab --help` and a mistyped option should answer in about an
# interpreter's start-up time, not after building every model.


class Context:
    def __init__(self, file: Path | None = None, lab_name: str | None = None, quiet: bool = False,
                 debug: bool = False) -> None:
        self.file = file
        self.lab_name = lab_name
        self.quiet = quiet
        self.debug = debug

    def config(self, prefer_state: bool = False) -> LabConfig:
        """The lab to act on: lab.yaml (or -f), or, for `down`/`status`, what the state recorded."""
        from .config import load_config, parse_config
        from .labs import lab_from_state

        if self.lab_name and self.file is None:
            recorded = lab_from_state(self.lab_name)
            return recorded or parse_config({"name": self.lab_name}, "--lab")
        lab, _ = load_config(self.file)
        if self.lab_name and self.lab_name != lab.name:
            raise LabError(f"--lab {self.lab_name!r} does not match the name {lab.name!r} in lab.yaml",
                           "drop --lab, or point -f at the lab.yaml of that lab")
        if prefer_state:
            recorded = lab_from_state(lab.name)
            if recorded is not None:
                return recorded
        return lab

    def reporter(self) -> Reporter:
        from .progress import Reporter

        return Reporter(quiet=self.quiet)


def up(ctx: Context, dry_run: bool) -> None:
    """Create or update the lab: IdP app and users, apiserver flags, RBAC, kubeconfig; then verify."""
    if dry_run:
        _plan(ctx)
        return
    from .orchestrator import Orchestrator

    lab = ctx.config()
    orchestrator = Orchestrator(lab, ctx.reporter())
    verdicts = orchestrator.up()
    if not ctx.quiet:
        print(f"\nLab {lab.name!r} is up. Try:")
        for verdict in verdicts:
            if verdict.accepted:
                print(f"  kubectl --context {verdict.context} auth whoami")
        print(f"Passwords and tokens are kept in {orchestrator.paths.root} (private to you).")


def _plan(ctx: Context) -> None:
    from .orchestrator import Orchestrator
    from .progress import Reporter

    changes = Orchestrator(ctx.config(), Reporter(quiet=True)).plan()
    if not changes:
        print("No changes: the lab is up to date.")
        return
    for change in changes:
        print(f"  {change}")
    print(f"{len(changes)} change(s) would be made by `lab up`.")


def plan(ctx: Context) -> None:
    """Show what `lab up` would change, and change nothing."""
    _plan(ctx)


def down(ctx: Context, keep_cluster: bool) -> None:
    """Remove everything the lab created and restore what it changed."""
    from .orchestrator import Orchestrator

    lab = ctx.config(prefer_state=True)
    if not Orchestrator(lab, ctx.reporter()).down(keep_cluster=keep_cluster):
        print(f"Lab {lab.name!r} is not up: nothing to do.")
    elif not ctx.quiet:
        print(f"Lab {lab.name!r} is down.")


def status(ctx: Context, output: str) -> None:
    """Report the lab: provider, issuer, client id, users and contexts, cluster flags."""
    from .status import lab_name, quick_report

    name = lab_name(ctx.file, ctx.lab_name)
    report = quick_report(name) if name else None
    if report is None:  # the steps say it (other providers, a stopped cluster, a lab.yaml to check)
        from .orchestrator import Orchestrator
        from .progress import Reporter

        report = Orchestrator(ctx.config(prefer_state=True), Reporter(quiet=True)).status()
    if output == "json":
        import json

        print(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["exists"]:
        print(f"Lab {report['lab']!r} is not up.")
        return
    cluster = report.get("cluster", {})
    idp = report.get("identity_provider", {})
    print(f"Lab:        {report['lab']}")
    print(f"Provider:   {report['provider']}" + (f" (issuer {'running' if idp.get('running') else 'NOT running'})" if "running" in idp else ""))
    print(f"Issuer:     {report['issuer_url']}")
    print(f"Client id:  {report['client_id']}")
    if "error" in cluster:
        print(f"Cluster:    {cluster['error']}")
    else:
        flags = "in place" if cluster.get("oidc_flags_in_place") else "NOT in place"
        print(f"Cluster:    minikube profile {cluster.get('profile')!r}, "
              f"{'running' if cluster.get('running') else 'stopped'}, OIDC flags {flags}")
    print(f"Kubeconfig: {report['kubeconfig']}")
    room = report.get("room") or {}
    if room.get("address"):
        print(f"Room:       {room['address']}, handouts "
              + (f"in {room['handouts']}" if room.get("handouts") else "not written (`lab handout`)"))
    print("Users:")
    for user in report["users"]:
        context = user["context"] or "(no context)"
        print(f"  {context:<28} {user['email'] or user['user']:<32} role={user['role'] or '-'}"
              + (f" groups={','.join(user['groups'])}" if user["groups"] else ""))


def handout(ctx: Context, out: Path | None) -> None:
    """Write each attendee's kubeconfig and printable sheet, and an index page (needs room.address)."""
    from pathlib import Path

    from .steps.handouts import write_handouts

    record = write_handouts(ctx.config(prefer_state=True), ctx.reporter(), out)
    if not ctx.quiet:
        print(f"Print {Path(record.folder) / 'index.html'}; `lab down` removes these files.")


def doctor(ctx: Context) -> None:
    """Check each link the apiserver walks to trust a token, and say which one is broken."""
    from .doctor import Doctor
    from .progress import Reporter
    from .steps import LabContext

    with LabContext(ctx.config(prefer_state=True), Reporter(quiet=True)) as lab:
        findings = Doctor(lab).run()
    for finding in findings:
        mark = _colour("✓", 32) if finding.ok else _colour("✗", 31)
        print(f"{mark} {finding.subject}: {finding.detail}")
        if not finding.ok and finding.hint:
            print(f"    hint: {finding.hint}")
    failed = [f for f in findings if not f.ok]
    if failed:
        raise LabError(f"{len(failed)} check(s) failed, first: {failed[0].subject}", failed[0].hint)


def serve(ctx: Context, cert: Path | None, key: Path | None, listen: str | None) -> None:
    """Serve the self-service page: lab users sign in with the lab's IdP and download their kubeconfig."""
    from .progress import Reporter
    from .selfservice.serve import serve as serve_page

    serve_page(ctx.config(prefer_state=True), Reporter(quiet=False), cert, key, listen)


def token(ctx: Context, args: list[str]) -> None:
    """Print an ExecCredential for kubectl (the credential plugin; see `lab token --help`)."""
    from .credential import main as token_main

    sys.exit(token_main(args))


def _colour(text: str, code: int) -> str:
    """ANSI colour on a terminal only, and not under NO_COLOR: a file or a pipe gets plain text."""
    import os

    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{code}m{text}\033[0m"


# the command line -------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's usage error, in the house style
        raise _UsageError(message, f"see `{self.prog} --help`")


class _UsageError(LabError):
    exit_code = 2


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """The options every command takes, before or after its name (`lab up -q`, as users type it).

    After the name they default to SUPPRESS, so an option given only before the name survives.
    """
    parser.add_argument("-f", "--file", type=_path, default=default, metavar="FILE",
                        help="lab.yaml to use (default ./lab.yaml, else built-in defaults)")
    parser.add_argument("--lab", dest="lab_name", default=default, metavar="NAME",
                        help="act on the lab with this name (its recorded config is used)")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="print only results and errors")
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks")


def _path(text: str) -> Path:
    from pathlib import Path  # pathlib (with urllib and ipaddress) only when -f is given

    return Path(text)


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import version

        print(f"lab, version {version('oidc-lab')}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="lab", description="Make a minikube cluster trust an OpenID Connect identity provider, "
                                           "and undo it.")
    _global_options(top, None)
    top.add_argument("--version", action=_Version, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    shared = _Parser(add_help=False)
    _global_options(shared, argparse.SUPPRESS)

    def command(function, **kwargs) -> argparse.ArgumentParser:
        summary = (function.__doc__ or "").strip()
        sub = commands.add_parser(function.__name__, help=summary, description=summary, **kwargs)
        sub.set_defaults(run=function)
        return sub

    command(up, parents=[shared]).add_argument(
        "--dry-run", action="store_true", help="show what would change and change nothing (same as `lab plan`)")
    command(plan, parents=[shared])
    command(down, parents=[shared]).add_argument(
        "--keep-cluster", action="store_true", help="leave the apiserver's OIDC flags in place (no restart)")
    command(status, parents=[shared]).add_argument(
        "-o", "--output", choices=["text", "json"], default="text", help="text or json (default: text)")
    command(handout, parents=[shared]).add_argument(
        "--out", type=_path, metavar="DIR",
        help="folder for the handouts (default: where they were written before, else ./<lab>-handouts)")
    page = command(serve, parents=[shared])
    page.add_argument("--cert", type=_path, metavar="FILE", help="the page's TLS certificate (PEM)")
    page.add_argument("--key", type=_path, metavar="FILE", help="its private key (PEM)")
    page.add_argument("--listen", metavar="ADDRESS",
                      help="the address to listen on (default: loopback for a loopback serve.host, else all)")
    command(doctor, parents=[shared])
    command(token, add_help=False).add_argument("args", nargs=argparse.REMAINDER)
    return top


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        options = vars(parser().parse_args(args))
        if options.get("command") is None:
            parser().print_help()
            sys.exit(2)
        run = options.pop("run")
        options.pop("command")
        ctx = Context(options.pop("file"), options.pop("lab_name"), bool(options.pop("quiet")),
                      bool(options.pop("debug")))
        run(ctx, **options)
    except LabError as exc:
        _fail(exc.message, exc.hint, exc.exit_code, debug)
    except KeyboardInterrupt:
        _fail("interrupted", "run the same command again: every step resumes where it stopped, and `lab down` cleans up", 130, debug)
    except Exception as exc:  # a bug: say so briefly, the traceback is one flag away
        _fail(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug and report the traceback", 1, debug)


def _fail(message: str, hint: str | None, code: int, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(code)
