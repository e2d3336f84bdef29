"""`homeroll select` and `homeroll memories …` as real processes on a DB the generator filled."""

from __future__ import annotations

import json

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from tests.conftest import cli_json, run_cli
from tests.memories.camera_roll import generate


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("memories-cli")
    library = tmp / "library"
    library.mkdir()
    cfg = config_mod.build(tmp / "config.toml", [library], tmp / "data", tmp / "export", "Europe/Berlin",
                           {"export": {"outputs": ["collage"]}})
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    truth = generate(db, 4, root=str(library), years=2)
    db.close()
    summary = cli_json(cfg.path, "select", "--today", "2022-12-27")
    return cfg, truth, summary, library


def test_select_prints_a_summary(setup):
    _, _, summary, _ = setup
    assert summary["created"] > 10
    assert {"trip", "gathering", "holiday"} <= set(summary["by_kind"])
    assert summary["items"] > 1000


def test_memories_json_has_the_contract_shape(setup):
    cfg, truth, _, library = setup
    listing = cli_json(cfg.path, "memories", "--json")
    assert listing
    keys = {"id", "kind", "title", "start", "end", "place", "people", "status", "score", "reason", "media",
            "members", "cover"}
    screenshots = set()
    for m in listing:
        assert keys <= set(m)
        assert 6 <= len(m["media"]) <= (40 if m["kind"] == "year_review" else 30) and m["members"] >= len(m["media"])
        assert m["cover"] in m["media"]
        for path in m["media"]:
            assert path.startswith(str(library) + "/")
            assert "Screenshots/" not in path and "WhatsApp" not in path
            screenshots.add(path)
        assert m["start"] <= m["end"] and len(m["start"]) == 10
    trips = cli_json(cfg.path, "memories", "--kind", "trip", "--json")
    assert trips and all(m["kind"] == "trip" for m in trips)
    assert len(trips) == len(truth.trips)


def test_decisions_through_the_cli(setup):
    cfg, _, _, _ = setup
    trip = cli_json(cfg.path, "memories", "--kind", "trip", "--json")[0]
    approved = cli_json(cfg.path, "memories", "approve", str(trip["id"]))
    assert approved["status"] == "approved"
    renamed = cli_json(cfg.path, "memories", "rename", str(trip["id"]), "Our first big trip")
    assert renamed["title"] == "Our first big trip"
    removed_path = trip["media"][0]
    after = cli_json(cfg.path, "memories", "remove", str(trip["id"]), removed_path)
    assert removed_path not in after["media"]
    new_cover = after["media"][-1]
    assert cli_json(cfg.path, "memories", "cover", str(trip["id"]), new_cover)["cover"] == new_cover
    shown = cli_json(cfg.path, "memories", "show", str(trip["id"]), "--json")
    assert shown["title"] == "Our first big trip" and shown["cover"] == new_cover and shown["stable_key"]
    # everything survives another selection run
    assert cli_json(cfg.path, "select", "--today", "2022-12-27")["created"] == 0
    again = cli_json(cfg.path, "memories", "show", str(trip["id"]), "--json")
    assert (again["title"], again["cover"], again["status"]) == ("Our first big trip", new_cover, "approved")
    assert removed_path not in again["media"]
    gathering = cli_json(cfg.path, "memories", "--kind", "gathering", "--json")[0]
    assert cli_json(cfg.path, "memories", "reject", str(gathering["id"]))["status"] == "rejected"
    rejected = cli_json(cfg.path, "memories", "--status", "rejected", "--json")
    assert [m["id"] for m in rejected] == [gathering["id"]]


def test_user_errors_are_one_line(setup):
    cfg, _, _, library = setup
    for args in (("memories", "approve", "99999"), ("memories", "show", "99999", "--json"),
                 ("memories", "remove", "1", str(library / "nope.jpg")), ("memories", "--status", "bogus")):
        proc = run_cli(cfg.path, *args, check=False)
        assert proc.returncode == 2, args
        assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout == ""


def test_the_table_shows_title_dates_kind_and_why(setup):
    cfg, _, _, _ = setup
    listing = cli_json(cfg.path, "memories", "--json")
    proc = run_cli(cfg.path, "memories", env={"COLUMNS": "160"})
    text = proc.stdout
    assert "km from home" in text and "trip" in text and "gathering" in text
    first = listing[0]
    assert first["title"].split(",")[0] in text and first["start"] in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
