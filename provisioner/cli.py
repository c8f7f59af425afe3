"""The `lab` command line: up, plan, down, status, doctor (and token, dispatched early by entry.py).

Every user-fixable failure arrives here as a `LabError` and leaves as two lines on stderr,
`error: ...` and `hint: ...`, with a non-zero exit and no traceback (unless --debug).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .config import LabConfig, load_config, parse_config
from .errors import LabError
from .progress import Reporter


class Context:
    def __init__(self, file: Path | None, lab_name: str | None, quiet: bool, debug: bool) -> None:
        self.file = file
        self.lab_name = lab_name
        self.quiet = quiet
        self.debug = debug

    def config(self, prefer_state: bool = False) -> LabConfig:
        """The lab to act on: lab.yaml (or -f), or, for `down`/`status`, what the state recorded."""
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
        return Reporter(quiet=self.quiet)


def pass_context(command):
    """Accept the global options after the subcommand too (`lab up -q`), as users type them."""
    import functools

    @click.option("-f", "--file", "sub_file", type=click.Path(path_type=Path, dir_okay=False), hidden=True)
    @click.option("--lab", "sub_lab", hidden=True)
    @click.option("-q", "--quiet", "sub_quiet", is_flag=True, hidden=True)
    @click.option("--debug", "sub_debug", is_flag=True, hidden=True)
    @click.pass_obj
    @functools.wraps(command)
    def wrapper(obj: Context, sub_file, sub_lab, sub_quiet, sub_debug, **kwargs):
        obj.file = sub_file or obj.file
        obj.lab_name = sub_lab or obj.lab_name
        obj.quiet = obj.quiet or sub_quiet
        obj.debug = obj.debug or sub_debug
        return command(obj, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", type=click.Path(path_type=Path, dir_okay=False), help="lab.yaml to use (default ./lab.yaml, else built-in defaults)")
@click.option("--lab", "lab_name", help="act on the lab with this name (its recorded config is used)")
@click.option("-q", "--quiet", is_flag=True, help="print only results and errors")
@click.option("--debug", is_flag=True, help="show tracebacks")
@click.version_option(package_name="oidc-lab", prog_name="lab")
@click.pass_context
def cli(ctx: click.Context, file: Path | None, lab_name: str | None, quiet: bool, debug: bool) -> None:
    """Make a minikube cluster trust an OpenID Connect identity provider, and undo it."""
    ctx.obj = Context(file, lab_name, quiet, debug)


@cli.command()
@click.option("--dry-run", is_flag=True, help="show what would change and change nothing (same as `lab plan`)")
@pass_context
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
        click.echo(f"\nLab {lab.name!r} is up. Try:")
        for verdict in verdicts:
            if verdict.accepted:
                click.echo(f"  kubectl --context {verdict.context} auth whoami")
        click.echo(f"Passwords and tokens are kept in {orchestrator.paths.root} (private to you).")


def _plan(ctx: Context) -> None:
    from .orchestrator import Orchestrator

    changes = Orchestrator(ctx.config(), Reporter(quiet=True)).plan()
    if not changes:
        click.echo("No changes: the lab is up to date.")
        return
    for change in changes:
        click.echo(f"  {change}")
    click.echo(f"{len(changes)} change(s) would be made by `lab up`.")


@cli.command()
@pass_context
def plan(ctx: Context) -> None:
    """Show what `lab up` would change, and change nothing."""
    _plan(ctx)


@cli.command()
@click.option("--keep-cluster", is_flag=True, help="leave the apiserver's OIDC flags in place (no restart)")
@pass_context
def down(ctx: Context, keep_cluster: bool) -> None:
    """Remove everything the lab created and restore what it changed."""
    from .orchestrator import Orchestrator

    lab = ctx.config(prefer_state=True)
    if not Orchestrator(lab, ctx.reporter()).down(keep_cluster=keep_cluster):
        click.echo(f"Lab {lab.name!r} is not up: nothing to do.")
    elif not ctx.quiet:
        click.echo(f"Lab {lab.name!r} is down.")


@cli.command()
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_context
def status(ctx: Context, output: str) -> None:
    """Report the lab: provider, issuer, client id, users and contexts, cluster flags."""
    from .orchestrator import Orchestrator

    report = Orchestrator(ctx.config(prefer_state=True), Reporter(quiet=True)).status()
    if output == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["exists"]:
        click.echo(f"Lab {report['lab']!r} is not up.")
        return
    cluster = report.get("cluster", {})
    idp = report.get("identity_provider", {})
    click.echo(f"Lab:        {report['lab']}")
    click.echo(f"Provider:   {report['provider']}" + (f" (issuer {'running' if idp.get('running') else 'NOT running'})" if "running" in idp else ""))
    click.echo(f"Issuer:     {report['issuer_url']}")
    click.echo(f"Client id:  {report['client_id']}")
    if "error" in cluster:
        click.echo(f"Cluster:    {cluster['error']}")
    else:
        flags = "in place" if cluster.get("oidc_flags_in_place") else "NOT in place"
        click.echo(f"Cluster:    minikube profile {cluster.get('profile')!r}, "
                   f"{'running' if cluster.get('running') else 'stopped'}, OIDC flags {flags}")
    click.echo(f"Kubeconfig: {report['kubeconfig']}")
    click.echo("Users:")
    for user in report["users"]:
        context = user["context"] or "(no context)"
        click.echo(f"  {context:<28} {user['email'] or user['user']:<32} role={user['role'] or '-'}"
                   + (f" groups={','.join(user['groups'])}" if user["groups"] else ""))


@cli.command()
@pass_context
def doctor(ctx: Context) -> None:
    """Check each link the apiserver walks to trust a token, and say which one is broken."""
    from .doctor import Doctor
    from .steps import LabContext

    with LabContext(ctx.config(prefer_state=True), Reporter(quiet=True)) as lab:
        findings = Doctor(lab).run()
    for finding in findings:
        mark = click.style("✓", fg="green") if finding.ok else click.style("✗", fg="red")
        click.echo(f"{mark} {finding.subject}: {finding.detail}")
        if not finding.ok and finding.hint:
            click.echo(f"    hint: {finding.hint}")
    failed = [f for f in findings if not f.ok]
    if failed:
        raise LabError(f"{len(failed)} check(s) failed, first: {failed[0].subject}", failed[0].hint)


@cli.command()
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), help="the page's TLS certificate (PEM)")
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), help="its private key (PEM)")
@click.option("--listen", help="the address to listen on (default: loopback for a loopback serve.host, else all)")
@pass_context
def serve(ctx: Context, cert: Path | None, key: Path | None, listen: str | None) -> None:
    """Serve the self-service page: lab users sign in with the lab's IdP and download their kubeconfig."""
    from .selfservice.serve import serve as serve_page

    serve_page(ctx.config(prefer_state=True), Reporter(quiet=False), cert, key, listen)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def token(ctx: click.Context) -> None:
    """Print an ExecCredential for kubectl (the credential plugin; see `lab token --help`)."""
    from .credential import main as token_main

    sys.exit(token_main(ctx.args))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="lab", standalone_mode=False)
    except LabError as exc:
        _fail(exc.message, exc.hint, exc.exit_code, debug)
    except click.exceptions.Abort:
        _fail("interrupted", "run the same command again: every step resumes where it stopped, and `lab down` cleans up", 130, debug)
    except KeyboardInterrupt:
        _fail("interrupted", "run the same command again: every step resumes where it stopped, and `lab down` cleans up", 130, debug)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: say so briefly, the traceback is one flag away
        _fail(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug and report the traceback", 1, debug)


def _fail(message: str, hint: str | None, code: int, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)
