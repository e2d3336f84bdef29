"""`homeroll notify`: send the digest of new suggestions now, or see what it would say.

The service sends it on ``[notify] cron``; this is for trying a new URL, or a household that wants it now.
``--dry-run`` prints the digest and neither sends nor marks anything, and never loads apprise. A digest
that no URL took is one line and exit 2, and its memories stay new for the next one.
"""

from __future__ import annotations

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import notify
from homeroll.daemon.store import notify as store_notify


@click.command("notify")
@click.option("--dry-run", is_flag=True, help="Print the digest without sending it or marking anything.")
@json_option("Print the digest (and whether it was sent) as JSON.")
@pass_app
def notify_cmd(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Send the digest of suggestions no digest has named yet to [notify] urls, now."""
    cfg = app.config
    urls = list(cfg["notify"]["urls"])
    if not urls:
        raise UserError(f"notifications are off: set [notify] urls in {cfg.path}")
    digest = notify.build_digest(store_notify.waiting(app.db))
    sent = False
    if digest is not None and not dry_run:
        if not notify.send(cfg, digest):
            raise UserError(f"the digest could not be sent to {', '.join(notify.redact(u) for u in urls)} "
                            "(see the warning above); nothing was marked")
        store_notify.mark_notified(app.db, digest.ids)
        sent = True
    if as_json:
        print_json({"sent": sent, "dry_run": dry_run, "to": [notify.redact(u) for u in urls],
                    **(digest.as_json() if digest else {"title": None, "body": None, "count": 0, "memories": []})})
        return
    if digest is None:
        click.echo("nothing new since the last digest; nothing sent")
        return
    click.echo(digest.body)
    if sent:
        click.echo(f"sent to {', '.join(notify.redact(u) for u in urls)}", err=True)
    else:
        click.echo("(dry run: not sent, nothing marked)", err=True)


commands = [notify_cmd]
