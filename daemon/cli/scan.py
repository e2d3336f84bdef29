"""`homeroll scan`: index every library root once (a progress bar on a terminal, one summary line)."""

from __future__ import annotations

import json
import sys

import click

from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.service.progress import JobProgress


@click.command("scan")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def scan(app: AppContext, as_json: bool) -> None:
    """Index new and changed files in every library; unchanged files cost one stat."""
    cfg, db = app.config, app.db
    with Indexer(cfg, db) as indexer, JobProgress(db, "scan") as report:  # status shows it while it runs
        if sys.stderr.isatty() and not as_json:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("indexing", total=None)
                report.also = lambda done, total: bar.update(task, completed=done, total=total)
                stats = indexer.scan(progress=report)
        else:
            stats = indexer.scan(progress=report)
        report.result = {"summary": stats.summary()}
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps(asdict(stats), indent=2))
    else:
        click.echo(stats.summary())


commands = [scan]
