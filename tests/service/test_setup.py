"""`homeroll setup`: the dry run, a real setup into a scratch root, the generated unit's hardening, re-runs
that change only the libraries, the inotify decision, and the one-line refusals."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from homeroll.daemon.errors import UserError
from homeroll.daemon.service import setup_apply, setup_plan, unitgen
from tests.conftest import HOMEROLL, in_ci

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
#: A name no machine has, so useradd is always in the plan and never collides with a real account.
USER = "homeroll-setup-test"
#: Outside CI a non-root run skips these; in CI they run, and fail if CI is not root (it must be).
as_root = pytest.mark.skipif(os.geteuid() != 0 and not in_ci(),
                             reason="a real setup chowns and chmods: run the suite as root to include it")


def setup(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*HOMEROLL, "setup", "--user", USER, *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"setup {args} exited {proc.returncode}: {proc.stderr}")
    return proc


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_dry_run_lists_every_file_and_command_and_writes_nothing(site):
    site["root"].mkdir()
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--home-tz", "Europe/Lisbon",
                "--root", str(site["root"]), "--dry-run").stdout
    root = site["root"]
    assert f"file: {root}/etc/homeroll/config.toml (mode 644; config)" in out
    assert f"file: {root}/etc/systemd/system/homeroll.service (mode 644; systemd unit)" in out
    assert f"folder: {root}/var/lib/homeroll (mode 2770, owner {USER}, when it is made; data dir" in out
    assert f"folder: {site['export']} (mode 2775, owner {USER}" in out
    assert (f"print only: useradd --system --user-group --home-dir /var/lib/homeroll --shell /usr/sbin/nologin "
            f"{USER}") in out
    assert "not running systemctl daemon-reload; systemctl enable --now homeroll" in out
    # Full contents: the config's keys and the unit's filled-in lines.
    assert f'    export_dir = "{site["export"]}"' in out and '    home_tz = "Europe/Lisbon"' in out
    assert f"    ReadOnlyPaths={site['lib']}" in out and f"    User={USER}" in out
    assert _tree(root) == [] and not site["export"].exists()


def test_dry_run_without_root_names_the_real_paths_and_the_systemctl_calls(site):
    before = Path("/etc/homeroll").exists(), Path("/etc/systemd/system/homeroll.service").exists()
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--dry-run").stdout
    assert "file: /etc/homeroll/config.toml" in out and "file: /etc/systemd/system/homeroll.service" in out
    if setup_plan.systemd_running():
        assert "run: systemctl daemon-reload" in out and "run: systemctl enable --now homeroll" in out
    else:
        assert "note: systemd is not running here (no /run/systemd/system): skipped `systemctl daemon-reload`" in out
        assert "run: systemctl" not in out
    assert (Path("/etc/homeroll").exists(), Path("/etc/systemd/system/homeroll.service").exists()) == before
    assert not site["export"].exists()


@as_root
def test_group_that_can_read_a_library_is_said_aloud_and_joined(site):
    group = next(g for g in grp.getgrall() if g.gr_gid != 0 and g.gr_name != USER)
    os.chown(site["lib"], 0, group.gr_gid)
    site["lib"].chmod(0o750)
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                "--dry-run").stdout
    assert f"note: adding {USER} to group {group.gr_name}: it can read {site['lib']} and others cannot" in out
    assert f"print only: usermod -aG {group.gr_name} {USER}" in out
    site["lib"].chmod(0o755)  # others can read: no group needed
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                "--dry-run").stdout
    assert "usermod" not in out
    site["lib"].chmod(0o700)  # only its owner: nothing to join, and it is said
    out = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--root", str(site["root"]),
                "--dry-run").stdout
    assert "usermod" not in out and f"note: warning: {site['lib']} can be read only by its owner" in out


@as_root
def test_real_setup_into_a_scratch_root_writes_the_files_and_skips_systemctl(site):
    done = setup("--library", str(site["lib"]), "--export", str(site["export"]), "--home-tz", "Europe/Berlin",
                 "--root", str(site["root"]))
    root = site["root"]
    cfg = tomllib.loads((root / "etc/homeroll/config.toml").read_text())
    assert cfg == {"libraries": [str(site["lib"])], "data_dir": "/var/lib/homeroll",
                   "export_dir": str(site["export"]), "home_tz": "Europe/Berlin"}
    unit = (root / "etc/systemd/system/homeroll.service").read_text()
    assert f"\nReadOnlyPaths={site['lib']}\n" in unit and f"\nReadWritePaths={site['export']}\n" in unit
    assert f"\nRequiresMountsFor={site['lib']} {site['export']}\n" in unit
    assert "\nProtectHome=yes\n" in unit
    assert oct((root / "var/lib/homeroll").stat().st_mode & 0o7777) == "0o2770"
    assert oct(site["export"].stat().st_mode & 0o7777) == "0o2775"
    assert "not run (--root without --real-users): useradd" in done.stdout
    assert "note: --root" in done.stdout and "not running systemctl daemon-reload" in done.stdout
    # The unit's ExecStart is this interpreter's homeroll, and it really runs.
    exec_start = re.search(r"\nExecStart=(\S+)", unit).group(1)
    assert Path(exec_start).parent == Path(sys.executable).parent
    assert subprocess.run([exec_start, "--help"], capture_output=True, timeout=60).returncode == 0
    # Every login finds that same homeroll on its PATH.
    assert os.readlink(root / "usr/local/bin/homeroll") == exec_start


@as_root
def test_rerun_with_a_second_library_changes_the_libraries_and_nothing_else(site):
    root, lib2 = site["root"], site["tmp"] / "photos" / "ben"
    lib2.mkdir()
    setup("--library", str(site["lib"]), "--export", str(site["export"]), "--home-tz", "Europe/Berlin",
          "--root", str(root))
    cfg_path = root / "etc/homeroll/config.toml"
    cfg_path.write_text(cfg_path.read_text() + '\n[faces]\nenabled = false\n\n[memories]\nme = "Anna"\n')
    db = root / "var/lib/homeroll/homeroll.db"
    db.write_bytes(b"not touched")
    os.utime(db, (1_000_000, 1_000_000))
    done = setup("--library", str(site["lib"]), "--library", str(lib2), "--export", str(site["export"]),
                 "--root", str(root))
    cfg = tomllib.loads(cfg_path.read_text())
    assert cfg["libraries"] == [str(site["lib"]), str(lib2)]
    assert cfg["faces"] == {"enabled": False} and cfg["memories"] == {"me": "Anna"}
    assert cfg["home_tz"] == "Europe/Berlin" and cfg["data_dir"] == "/var/lib/homeroll"
    unit = (root / "etc/systemd/system/homeroll.service").read_text()
    assert f"\nReadOnlyPaths={site['lib']} {lib2}\n" in unit
    assert db.read_bytes() == b"not touched" and db.stat().st_mtime == 1_000_000
    assert f"kept {root / 'var/lib/homeroll'} (exists: its mode and owner are left as they are)" in done.stdout
    # The config's meaning changed (one more library): rewritten, with the person's text kept beside it.
    assert (root / "etc/homeroll/config.toml.bak").read_text().endswith('[memories]\nme = "Anna"\n')
    # A third identical run rewrites nothing.
    again = setup("--library", str(site["lib"]), "--library", str(lib2), "--export", str(site["export"]),
                  "--root", str(root)).stdout
    assert "wrote" not in again and again.count("unchanged ") == 3  # config, unit, the command link


def test_sysctl_file_only_when_the_folders_need_more_watches(tmp_path):
    assert setup_plan.sysctl_text(folders=1000, limit=8192) is None
    text = setup_plan.sysctl_text(folders=5000, limit=8192)
    assert text and "fs.inotify.max_user_watches=524288\n" in text and "fs.inotify.max_user_instances=512\n" in text
    big = setup_plan.sysctl_text(folders=400_000, limit=524_288)
    assert big and "fs.inotify.max_user_watches=1048576\n" in big
    assert setup_plan.sysctl_text(folders=10, limit=None) is None
    for i in range(30):
        (tmp_path / "lib" / f"d{i}" / "sub").mkdir(parents=True)
    assert setup_plan.count_folders([tmp_path / "lib"]) == 61
    assert setup_plan.count_folders([tmp_path / "lib"], limit=10) == 10


@as_root
def test_a_low_watch_limit_puts_the_sysctl_file_in_the_plan(site, monkeypatch):
    """The machine's limit is injected (a file standing in for /proc): making ~100k folders is not feasible."""
    for i in range(20):
        (site["lib"] / f"album{i}").mkdir()
    fake_proc = site["tmp"] / "max_user_watches"
    fake_proc.write_text("16\n")
    monkeypatch.setattr(setup_plan, "WATCHES_PROC", fake_proc)
    req = setup_plan.Request(libraries=[site["lib"]], export_dir=site["export"], home_tz="UTC", user=USER,
                             root=site["root"])
    plan = setup_plan.build(req)
    lines: list[str] = []
    setup_apply.apply(plan, lines.append)
    conf = (site["root"] / "etc/sysctl.d/90-homeroll.conf").read_text()
    assert "folders; the limit was 16" in conf and "fs.inotify.max_user_watches=524288" in conf
    assert any("sysctl -p /etc/sysctl.d/90-homeroll.conf" in n for n in plan.notes)


def _verify_and_exposure(unit: Path) -> float:
    out = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
    out = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout + out.stderr)
    assert match, out.stdout[-2000:] + out.stderr
    return float(match.group(1))


@pytest.mark.skipif(not Path(SYSTEMD_ANALYZE).exists() and not in_ci(),
                    reason="systemd-analyze is not installed (`make test` installs it: apt-get install systemd)")
@pytest.mark.parametrize("under_home", [False, True])
def test_generated_unit_verifies_and_is_rated_at_most_1_5(site, under_home):
    libs = [Path("/home/anna/Photos"), site["lib"]] if under_home else [site["lib"]]
    text = unitgen.render(libs, site["export"], "homeroll", unitgen.exec_start())
    assert ("\nProtectHome=read-only\n" in text) == under_home
    template = unitgen.template_text()
    for line in template.splitlines():  # every hardening line of the template is kept
        if line and not line.startswith("#") and line.split("=")[0] not in (
                "RequiresMountsFor", "ReadOnlyPaths", "ReadWritePaths", "ExecStart", "ProtectHome", "User", "Group"):
            assert f"\n{line}\n" in text, line
    unit = site["tmp"] / "homeroll.service"
    unit.write_text(text)
    assert _verify_and_exposure(unit) <= 1.5


def test_refuses_a_missing_library_and_an_export_folder_inside_a_library(site):
    done = setup("--library", str(site["tmp"] / "nope"), "--export", str(site["export"]), "--dry-run", check=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"homeroll: library {site['tmp'] / 'nope'} does not exist (mount or create it first)"]
    done = setup("--library", str(site["lib"]), "--export", str(site["lib"] / "Memories"), "--dry-run", check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is inside library" in done.stderr and not (site["lib"] / "Memories").exists()


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """Run the CLI as the unprivileged user nobody: with runuser when nobody can start this interpreter,
    else in a forked child that drops to nobody's uid (the venv may sit where nobody cannot read)."""
    probe = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "import homeroll.daemon"],
                           capture_output=True, cwd="/", timeout=60) if shutil.which("runuser") else None
    if probe is not None and probe.returncode == 0:
        done = subprocess.run(["runuser", "-u", "nobody", "--", *HOMEROLL, *argv], capture_output=True, text=True,
                              cwd="/", timeout=60)
        return done.returncode, done.stderr
    from homeroll.daemon.cli import main

    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            # pytest has replaced sys.stderr; the CLI's one line must reach the pipe.
            sys.stderr = os.fdopen(write, "w")
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        err = pipe.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), err


@as_root
def test_refuses_when_not_root(site):
    code, err = _as_nobody(["setup", "--library", str(site["lib"]), "--export", str(site["export"])])
    assert code == 2, err
    assert err.strip().splitlines() == [
        "homeroll: setup must run as root (sudo homeroll setup ...); --dry-run shows what it would do, "
        "--user-unit installs for this login without root"]
    assert not site["export"].exists()


def test_plan_refusal_is_a_user_error(site):
    with pytest.raises(UserError, match="is inside library"):
        setup_plan.build(setup_plan.Request(libraries=[site["lib"]], export_dir=site["lib"] / "x", root=site["root"]))
