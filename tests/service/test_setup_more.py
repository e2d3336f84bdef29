"""`homeroll setup --member`, `--upgrade` and `--user-unit`, each run as the real command.

The upgrade starts from a DB made by the previous schema (every step but the newest), with the settings
the previous version recorded, so what it lists is computed, not canned. The user unit is written into a
scratch home and checked by systemd-analyze in user mode.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import sqlite3
import subprocess
from pathlib import Path

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.service import setup_plan, unitgen
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import schema as store_schema
from homeroll.daemon.store import service as store_service
from tests.conftest import HOMEROLL
from tests.service.test_setup import SYSTEMD_ANALYZE, USER, as_root, setup

NEWEST = store_schema.step_names()[-1]


def test_member_joins_the_group_and_an_unknown_login_is_refused(site):
    site["root"].mkdir()
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                "--member", "nobody", "--dry-run").stdout
    assert f"print only: usermod -aG {USER} nobody" in out
    assert f"note: adding nobody to group {USER}: after logging in again they run `homeroll tui`" in out
    done = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                 "--member", "no-such-login-hr", "--dry-run", check=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "homeroll: there is no user no-such-login-hr on this machine (create the login first: adduser no-such-login-hr)"]
    done = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                 "--member", USER, "--dry-run", check=False)
    assert done.returncode == 2 and "is the service user itself" in done.stderr


def test_a_rerun_without_library_or_export_takes_the_configs_and_a_first_run_needs_them(site):
    done = setup("--root", str(site["root"]), "--dry-run", check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"homeroll: no config at {site['root']}/etc/homeroll/config.toml yet: "
                                   "the first setup needs --library and --export")


def _old_install(root: Path, lib: Path, export: Path) -> Path:
    """A config and a DB as the previous version left them: schema without the newest step, and the settings
    that version knew (this one's minus [backup])."""
    cfg = config_mod.build(root / "etc/homeroll/config.toml", [lib], Path("/var/lib/homeroll"), export, "UTC")
    config_mod.save(cfg)
    data = root / "var/lib/homeroll"
    data.mkdir(parents=True)
    db_path = data / "homeroll.db"
    db = store_db.Database(sqlite3.connect(db_path, isolation_level=None))
    store_schema.migrations.apply(db, stop_before=NEWEST)
    old_keys = [k for k in config_mod.known_keys() if not k.startswith("backup.")]
    store_service.record_install(db, "0.0.9", old_keys)
    store_items.kv_set(db, "household.note", "kept through the upgrade")
    db.close()
    return db_path


@as_root
def test_upgrade_lists_the_changes_backs_up_migrates_and_checks(site):
    root = site["root"]
    db_path = _old_install(root, site["lib"], site["export"])
    before = store_db.applied_steps(db_path)
    assert NEWEST not in before

    out = setup("--upgrade", "--root", str(root), "--dry-run").stdout
    assert "note: homeroll 0.0.9 -> " in out
    assert (f"note: schema: {len(before)} steps applied, 1 to apply; a backup (homeroll.db.bak-{len(before)}) is "
            "taken first and the DB checked after") in out
    assert re.search(rf"note: schema step {NEWEST}: \S", out), out
    assert "note: new setting (default kept unless you set it): [backup] cron = '0 3 * * *'" in out
    assert "note: new setting (default kept unless you set it): [backup] keep = 7" in out
    assert "then: migrate the DB (backup first, check after)" in out
    assert store_db.applied_steps(db_path) == before and not list(db_path.parent.glob("*.bak-*"))

    done = setup("--upgrade", "--root", str(root)).stdout
    assert (f"database {db_path}: backup homeroll.db.bak-{len(before)} taken, 1 schema steps applied, "
            "quick_check ok") in done
    assert store_db.applied_steps(db_path)[-1] == NEWEST
    backup = db_path.with_name(f"homeroll.db.bak-{len(before)}")
    assert store_db.applied_steps(backup) == before  # the copy is the DB as it was before the upgrade
    db = store.connect(db_path)
    assert store_items.kv_get(db, "household.note") == "kept through the upgrade"
    db.close()

    again = setup("--upgrade", "--root", str(root), "--dry-run").stdout
    assert f"note: schema: unchanged ({len(before) + 1} steps)" in again
    assert "note: settings: none new" in again


@as_root
def test_upgrade_refuses_a_database_from_a_newer_homeroll(site):
    root = site["root"]
    db_path = _old_install(root, site["lib"], site["export"])
    db = store.connect(db_path)
    db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('homeroll', 'm999_future', '')")
    db.close()
    steps = store_db.applied_steps(db_path)
    done = setup("--upgrade", "--root", str(root), check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not upgrading: the database" in done.stderr and "m999_future" in done.stderr
    assert f"homeroll db restore {db_path}.bak-{len(steps) - 1}" in done.stderr
    assert store_db.applied_steps(db_path) == steps


def _home_env(tmp: Path) -> dict[str, str]:
    home = tmp / "home" / "anna"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("HOMEROLL_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    (tmp / "runtime").mkdir(exist_ok=True, mode=0o700)
    return {**env, "HOME": str(home), "XDG_RUNTIME_DIR": str(tmp / "runtime")}


def test_user_unit_writes_into_the_home_and_the_unit_verifies(site):
    env = _home_env(site["tmp"])
    home = Path(env["HOME"])
    argv = [*HOMEROLL, "setup", "--user-unit", "--library", str(site["lib"]), "--export", str(site["export"]),
            "--home-tz", "Europe/Lisbon"]
    dry = subprocess.run([*argv, "--dry-run"], capture_output=True, text=True, env=env, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert f"file: {home}/.config/homeroll/config.toml" in dry.stdout
    assert f"file: {home}/.config/systemd/user/homeroll.service" in dry.stdout
    assert "no systemd user manager runs for this login: not running systemctl --user daemon-reload" in dry.stdout
    assert not (home / ".config").exists()

    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    cfg = config_mod.load(home / ".config/homeroll/config.toml")
    assert cfg.data_dir == home / ".local/state/homeroll" and cfg.data_dir.is_dir()
    assert cfg.libraries == [site["lib"]] and cfg.home_tz == "Europe/Lisbon"
    unit_path = home / ".config/systemd/user/homeroll.service"
    unit = unit_path.read_text()
    assert "\nUser=" not in unit and "\nGroup=" not in unit and "\nWantedBy=default.target\n" in unit
    assert f"\nReadWritePaths={site['export']} {cfg.data_dir}\n" in unit and "\nProtectHome=read-only\n" in unit
    assert f"--config {home}/.config/homeroll/config.toml run" in unit
    assert f"\nEnvironment=HOMEROLL_CONFIG={home}/.config/homeroll/config.toml\n" in unit

    if Path(SYSTEMD_ANALYZE).exists():
        verify = subprocess.run([SYSTEMD_ANALYZE, "--user", "verify", str(unit_path)], capture_output=True, text=True,
                                env=env, timeout=60)
        assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
        rated = subprocess.run([SYSTEMD_ANALYZE, "--user", "security", "--offline=true", str(unit_path)],
                               capture_output=True, text=True, env=env, timeout=60)
        level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", rated.stdout + rated.stderr).group(1))
        # The offline rating assumes a user unit runs as root (0.4 of it); it still rates SAFE.
        assert level <= 1.5, rated.stdout[-1500:]

    # doctor, run as that login, finds the user unit and the config without being told. This test's folders
    # are under /tmp, which the unit's PrivateTmp=yes hides, and doctor says exactly that (nothing else).
    doctor = subprocess.run([*HOMEROLL, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=120)
    unit_checks = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "unit"]
    assert unit_checks and all("PrivateTmp=yes" in c["detail"] for c in unit_checks), unit_checks
    assert {c["detail"].split(" ")[0] for c in unit_checks} == {"library", "data", "export"}, unit_checks
    fixes = " ".join(c["fix"] for c in json.loads(doctor.stdout)["checks"] if c["name"] in ("database", "service"))
    assert "systemctl --user enable --now homeroll" in fixes, fixes  # a user unit's commands, not root's


def test_user_unit_refuses_system_only_options(site):
    done = subprocess.run([*HOMEROLL, "setup", "--user-unit", "--member", "nobody", "--library", str(site["lib"]),
                           "--export", str(site["export"])], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--user-unit installs for this login only" in done.stderr


def _tree_state(*folders: Path) -> dict[str, tuple]:
    """Every entry's name, mode, owner, size and mtime: a dry run must leave all of it as it was."""
    out = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            st = path.lstat()
            out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return out


@as_root
def test_dry_runs_of_upgrade_and_member_change_nothing(site):
    root = site["root"]
    _old_install(root, site["lib"], site["export"])
    site["export"].mkdir()
    before = _tree_state(root, site["export"])
    out = setup("--upgrade", "--root", str(root), "--dry-run").stdout
    assert "then: migrate the DB" in out
    setup("--member", "nobody", "--root", str(root), "--dry-run")
    assert _tree_state(root, site["export"]) == before


@as_root
def test_a_config_with_its_own_data_dir_is_used_as_it_says(site):
    root, data = site["root"], site["tmp"] / "ssd" / "homeroll"
    cfg = config_mod.build(root / "etc/homeroll/config.toml", [site["lib"]], data, site["export"], "UTC")
    config_mod.save(cfg)
    data.mkdir(parents=True)
    db = store.connect(data / "homeroll.db")
    db.close()
    out = setup("--upgrade", "--root", str(root), "--dry-run").stdout
    assert f"folder: {data} (mode 2770" in out and f"folder: {root}/var/lib/homeroll" not in out
    setup("--root", str(root))
    unit = (root / "etc/systemd/system/homeroll.service").read_text()
    assert f"\nReadWritePaths={site['export']} {data}\n" in unit
    assert f"\nRequiresMountsFor={site['lib']} {site['export']} {data}\n" in unit
    assert not (root / "var/lib/homeroll").exists()


@as_root
def test_a_rerun_keeps_a_hand_edited_config_and_an_existing_export_folder_as_they_are(site):
    root = site["root"]
    site["export"].mkdir()
    site["export"].chmod(0o777)  # a Samba share with modes of its own
    setup("--library", str(site["lib"]), "--export", str(site["export"]), "--home-tz", "UTC", "--root", str(root))
    assert oct(site["export"].stat().st_mode & 0o7777) == "0o777"
    cfg_path = root / "etc/homeroll/config.toml"
    edited = cfg_path.read_text() + "\n# the Pi is slow\n[faces]\nenabled = false  # for now\n"
    cfg_path.write_text(edited)
    done = setup("--member", "nobody", "--root", str(root))
    assert f"unchanged {cfg_path}" in done.stdout and cfg_path.read_text() == edited
    lib2 = site["tmp"] / "photos" / "ben"
    lib2.mkdir()
    done = setup("--library", str(lib2), "--root", str(root))
    assert (f"note: library {site['lib']} is not in the new list: the service stops watching it") in done.stdout
    assert f"(the previous one, with any comments in it, is {cfg_path}.bak)" in done.stdout
    assert (root / "etc/homeroll/config.toml.bak").read_text() == edited
    assert config_mod.load(cfg_path)["faces"]["enabled"] is False  # the setting stays, the comment is in .bak


@as_root
def test_upgrade_of_a_damaged_database_is_one_line(site):
    root = site["root"]
    db_path = _old_install(root, site["lib"], site["export"])
    db_path.write_bytes(b"this is not a database" * 100)
    done = setup("--upgrade", "--root", str(root), "--dry-run", check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not upgrading: the database" in done.stderr and "is damaged" in done.stderr
    assert "homeroll db restore" in done.stderr and "internal error" not in done.stderr


def test_plan_order_with_systemd_upgrade_stops_first_and_a_changed_rerun_restarts(site, monkeypatch, tmp_path):
    """The plan as systemd would get it (paths redirected into tmp; nothing is applied)."""
    monkeypatch.setattr(setup_plan, "systemd_running", lambda: True)
    monkeypatch.setattr(unitgen, "CONFIG_PATH", tmp_path / "etc/config.toml")
    monkeypatch.setattr(unitgen, "UNIT_PATH", tmp_path / "etc/homeroll.service")
    monkeypatch.setattr(setup_plan, "DATA_DIR", tmp_path / "var/homeroll")
    monkeypatch.setattr(setup_plan, "SYSCTL_PATH", tmp_path / "etc/sysctl.conf")
    monkeypatch.setattr(setup_plan, "COMMAND_LINK", tmp_path / "bin/homeroll")
    req = lambda **kw: setup_plan.Request(libraries=[site["lib"]], export_dir=site["export"], home_tz="UTC",  # noqa: E731
                                          user=USER, **kw)
    first = setup_plan.build(req())
    runs = [s.argv for s in first.steps if s.kind == "run" and s.argv[0] == "systemctl"]
    assert runs == [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "homeroll"]]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/homeroll.service").write_text("an older unit\n")
    again = setup_plan.build(req())
    assert [s.argv for s in again.steps if s.kind == "run"][-1] == ["systemctl", "try-restart", "homeroll"]
    (tmp_path / "var/homeroll").mkdir(parents=True)
    store.connect(tmp_path / "var/homeroll/homeroll.db").close()
    upgrade = setup_plan.build(req(upgrade=True))
    kinds = [(s.kind, s.argv[:2] or s.why.split()[0]) for s in upgrade.steps]
    assert kinds[0] == ("run", ["systemctl", "stop"])
    whys = [s.why for s in upgrade.steps if s.kind == "call"]
    assert whys[0].startswith("migrate the DB") and whys[1].startswith(f"give group {USER}")
    assert ["systemctl", "try-restart", "homeroll"] not in [s.argv for s in upgrade.steps]


@as_root
def test_sharing_the_data_dir_never_reaches_outside_it(site):
    """The service user owns the data dir and could plant links in it: root's walk must not follow them."""
    from homeroll.daemon.service import setup_household

    outside = site["tmp"] / "outside"
    outside.mkdir()
    secret, linked = outside / "secret", outside / "linked"
    for path in (secret, linked):
        path.write_text("root's own")
        path.chmod(0o600)
    real = site["tmp"] / "disk" / "homeroll"
    (real / "thumbs").mkdir(parents=True)
    (real / "homeroll.db").write_bytes(b"x")
    (real / "homeroll.db").chmod(0o640)
    (real / "to-secret").symlink_to(secret)
    (real / "to-outside").symlink_to(outside, target_is_directory=True)
    os.link(linked, real / "hard")
    os.mkfifo(real / "fifo")
    data = site["tmp"] / "var-lib-homeroll"
    data.symlink_to(real, target_is_directory=True)  # /var/lib/homeroll -> a disk

    said = setup_household.share(data, "nobody", "nogroup")
    nobody = pwd.getpwnam("nobody")
    assert said.startswith(f"shared {real} with group nogroup")
    for path in (real, real / "thumbs", real / "homeroll.db"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, grp.getgrnam("nogroup").gr_gid), path
        assert st.st_mode & 0o070 in (0o060, 0o070) and not st.st_mode & 0o007, oct(st.st_mode)
    assert oct(real.stat().st_mode & 0o7777) == "0o2770"
    for untouched in (secret, linked, outside, real / "fifo"):
        st = untouched.stat()
        assert (st.st_uid, st.st_gid) == (0, 0) and st.st_mode & 0o077 in (0, 0o055, 0o044), (untouched, oct(st.st_mode))
    assert setup_household.share(data, "nobody", "nogroup") == f"{real} already shared with group nogroup"
