"""A library root taken out of the config: `removed`, not `online`; its photos feed no new memory and no
face scan, what was decided keeps them, and putting the root back reads none of its files again.

Real CLI processes on the demo roll (small pictures) and a second, small root.
"""

from __future__ import annotations

from datetime import date, datetime

from homeroll.daemon import store
from homeroll.daemon.store import faces as store_faces
from homeroll.demo.media import scene, write_jpeg
from homeroll.demo.roll import generate_camera_roll
from tests.conftest import cli_json, run_cli

TODAY = date(2026, 6, 1)


def _roots(cfg) -> dict[str, str]:
    return {r["path"]: r["state"] for r in cli_json(cfg.path, "status", "--json")["roots"]}


def _suggested_media(cfg) -> list[str]:
    return [p for m in cli_json(cfg.path, "memories", "--status", "suggested", "--json") for p in m["media"]]


def test_a_removed_root_feeds_nothing_new_and_comes_back_without_a_reread(make_config, tmp_path):
    home, roll = tmp_path / "home", tmp_path / "roll"
    home.mkdir()
    for i in range(3):
        write_jpeg(home / f"IMG_{i}.jpg", scene(i, (64, 48)), taken=datetime(2025, 1, 1, 12, i))
    generate_camera_roll(roll, today=TODAY, size=(64, 48))
    cfg = make_config([home, roll], faces={"enabled": False})
    first = cli_json(cfg.path, "scan", "--json")
    cli_json(cfg.path, "select", "--today", TODAY.isoformat())
    assert any(p.startswith(str(roll)) for p in _suggested_media(cfg))
    kept = next(m for m in cli_json(cfg.path, "memories", "--json") if m["media"][0].startswith(str(roll)))
    run_cli(cfg.path, "memories", "approve", str(kept["id"]))

    cfg = make_config([home], faces={"enabled": False})  # the household takes the roll out of the config
    cli_json(cfg.path, "scan", "--json")
    assert _roots(cfg) == {str(home): "online", str(roll): "removed"}
    media = cli_json(cfg.path, "media", "--json")
    assert sum(m["path"].startswith(str(roll)) for m in media) == first["new_items"] - 3  # kept, not missing
    db = store.connect(cfg.db_path)
    try:
        assert all(not path.startswith(str(roll)) for _, path in store_faces.todo_items(db))
    finally:
        db.close()
    cli_json(cfg.path, "select", "--today", TODAY.isoformat())
    assert not [p for p in _suggested_media(cfg) if p.startswith(str(roll))]
    approved = cli_json(cfg.path, "memories", "--status", "approved", "--json")
    assert [(m["id"], m["media"]) for m in approved] == [(kept["id"], kept["media"])]  # what was decided stays

    cfg = make_config([home, roll], faces={"enabled": False})  # and puts it back
    again = cli_json(cfg.path, "scan", "--json")
    assert _roots(cfg) == {str(home): "online", str(roll): "online"}
    assert (again["new_items"], again["indexed"], again["live_videos"]) == (0, 0, 0)  # not one file read again
    cli_json(cfg.path, "select", "--today", TODAY.isoformat())
    assert any(p.startswith(str(roll)) for p in _suggested_media(cfg))
