"""`homeroll export ID`: render an approved memory's collage, video and album folder into the export folder
(or its collage into a preview file)."""

from __future__ import annotations

from pathlib import Path

import click

from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.collage.layout import LAYOUTS
from homeroll.daemon.collage.render import PRESETS, STYLES


@click.command("export")
@click.argument("memory_id", type=int)
@click.option("--layout", type=click.Choice([*LAYOUTS, "auto"]), default=None,
              help="Layout (default: [export] layout; auto picks from the number and shape of the photos).")
@click.option("--size", type=click.Choice(list(PRESETS)), default=None,
              help="Page size (default: [export] size).")
@click.option("--style", type=click.Choice(list(STYLES)), default=None,
              help="Look: clean (white), dark, polaroid (caption band), bw (default: [export] style).")
@click.option("--no-title", is_flag=True, help="No title and date caption.")
@click.option("--force", is_flag=True, help="Export even if the memory is not approved.")
@click.option("--outputs", default=None, metavar="LIST",
              help="What to make, a comma list of collage, video, album (default: [export] outputs).")
@click.option("--preview", "preview", type=click.Path(dir_okay=False), default=None,
              help="Write the collage to this file (.jpg or .png) instead; nothing is marked or recorded.")
@pass_app
def export(app: AppContext, memory_id: int, layout: str | None, size: str | None, style: str | None,
           no_title: bool, force: bool, outputs: str | None, preview: str | None) -> None:
    """Render memory MEMORY_ID's outputs; prints each file's path, the collage's (else the video's, else the
    album folder's) as the last line."""
    from homeroll.daemon.collage.export import export_memory, export_outputs_of
    from homeroll.daemon.errors import UserError

    cfg = app.config
    title = bool(cfg["export"]["title"]) and not no_title
    if preview:
        if outputs is not None:
            raise UserError("--preview renders the collage only: leave out --outputs")
        click.echo(str(export_memory(cfg, app.db, memory_id, layout=layout, size=size, style=style, title=title,
                                     force=force, preview_path=Path(preview))))
        return
    written = export_outputs_of(cfg, app.db, memory_id, layout=layout, size=size, style=style, title=title,
                                force=force, outputs=outputs)
    main = next(p for key, p in written.items() if key != "sidecar")
    for path in [*(p for p in written.values() if p != main), main]:
        click.echo(str(path))


commands = [export]
