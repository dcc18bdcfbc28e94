"""`shian users ...` and `shian serve`."""
from __future__ import annotations

import ipaddress
import logging
import sys

import click

from shian.settings import get_settings

log = logging.getLogger(__name__)


@click.group()
def users() -> None:
    """Review-UI users: add, disable, list, API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "lead", "enforcement", "admin"]), required=True,
              help="reviewer 审核员, lead 科长, enforcement 执法人员, admin 管理员.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (first line).")
def add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user. The password comes from stdin (--password-stdin) or an interactive prompt."""
    from shian.audit import open_audit
    from shian.users import UserError, open_users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    try:
        open_users(settings).add(name, role, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    open_audit(settings).append("cli", "user_add", f"user:{name}", {"role": role})
    click.echo(f"added {name} ({role})")


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable a user: their sessions and API tokens stop working at once."""
    from shian.audit import open_audit
    from shian.users import UserError, open_users

    settings = get_settings()
    try:
        open_users(settings).disable(name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    open_audit(settings).append("cli", "user_disable", f"user:{name}", {})
    click.echo(f"disabled {name}")


@users.command("list")
def list_users() -> None:
    """List users and their roles."""
    from shian.users import open_users

    for u in open_users(get_settings()).all():
        click.echo(f"{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")


@users.command("token")
@click.argument("name")
def token(name: str) -> None:
    """Print a new API token for NAME (send it as `Authorization: Bearer TOKEN`)."""
    from shian.audit import open_audit
    from shian.users import UserError, open_users

    settings = get_settings()
    try:
        value = open_users(settings).issue_token(name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    open_audit(settings).append("cli", "token_issued", f"user:{name}", {})
    click.echo(value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free port).")
def serve(host: str, port: int) -> None:
    """Serve the review UI (threaded werkzeug server; enough for one bureau)."""
    from review_ui import create_app

    settings = get_settings()
    if not settings.secret_key and not _loopback(host):
        raise click.ClickException("SHIAN_SECRET_KEY must be set to serve on a non-loopback address")
    serve_app(create_app(settings), host, port)


def serve_app(app, host: str, port: int, banner: str = "") -> None:
    """Serve `app` until Ctrl-C, printing its URL (and `banner`) once the port is bound."""
    from werkzeug.serving import make_server

    settings = get_settings()
    server = make_server(host, port, app, threaded=True)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{server.server_port}/"
    click.echo(f"review UI: {url}" + (f"   {banner}" if banner else ""))
    log.info("serving the review UI at %s (data dir %s, store %s)", url, settings.data_dir, settings.store)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
