"""Two real Unix users share one homeroll: the service runs as its own user, a household member runs the CLI as
themselves against the same DB while the service writes, and each one's files stay usable by the other.

Everything is the real thing: `homeroll setup --real-users` creates the service user and joins the member
to its group, the service is `homeroll run` started as that user with the unit's UMask, and the member's
commands are processes running under the member's uid and all its groups, as a login gets them. Root passes
every permission check, so none of it runs as root.

The interpreter must be executable by other users. Where it lives under /root (pyenv), the test
bind-mounts it read-only at a world-readable path for its duration (and finds this venv's packages with a
sitecustomize), which changes nothing on the machine once unmounted.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import memories as store_memories
from tests.conftest import HOMEROLL, in_ci
from tests.service.helpers import jpeg_bytes, wait_for, write_file

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def _need(ok: bool, reason: str) -> None:
    if not ok:
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def any_user_python():
    """(argv prefix, env) that run homeroll as any user: this interpreter if others can run it, else a
    read-only bind mount of its installation plus a sitecustomize that adds this venv's packages."""
    _need(os.geteuid() == 0 and Path(RUNUSER).exists(), "needs root and runuser (util-linux)")
    probe = subprocess.run([RUNUSER, "-u", "nobody", "--", *HOMEROLL, "--version"], capture_output=True, cwd="/",
                           timeout=60)
    if probe.returncode == 0:
        yield HOMEROLL, {}
        return
    mount = tempfile.mkdtemp(prefix="hrpy-")
    site = tempfile.mkdtemp(prefix="hrsite-")
    for folder in (mount, site):
        os.chmod(folder, 0o755)
    done = subprocess.run(["mount", "--bind", "-o", "ro", sys.base_prefix, mount], capture_output=True, text=True)
    _need(done.returncode == 0, f"cannot bind-mount {sys.base_prefix}: {done.stderr.strip()}")
    try:
        packages = sysconfig.get_paths()["purelib"]
        Path(site, "sitecustomize.py").write_text(f"import site\nsite.addsitedir({packages!r})\n")
        python = Path(mount) / Path(sys._base_executable).relative_to(sys.base_prefix)
        env = {"LD_LIBRARY_PATH": f"{mount}/lib", "PYTHONPATH": site}
        yield [str(python), "-m", "homeroll.daemon"], env
    finally:
        subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(site, ignore_errors=True)
        os.rmdir(mount)


def _identity(user: str) -> dict:
    """A user's uid, gid and all its groups, as a login (and systemd's User=, through initgroups) gets them."""
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": os.getgrouplist(user, pw.pw_gid)}


class House:
    def __init__(self, python: tuple[list[str], dict]) -> None:
        self.argv, self.env = python
        tag = uuid.uuid4().hex[:5]
        self.service_user, self.member = f"hrsvc{tag}", f"hrmem{tag}"
        self.base = Path(tempfile.mkdtemp(prefix="hrhouse-"))  # pytest's tmp dirs are 0700: other users can't enter
        self.base.chmod(0o755)
        self.lib, self.export, self.root = self.base / "photos", self.base / "export", self.base / "root"
        self.lib.mkdir()
        self.config = self.root / "etc/homeroll/config.toml"
        self.data = self.root / "var/lib/homeroll"

    def as_user(self, user: str, *args: str, umask: int = 0o022, check: bool = True) -> subprocess.CompletedProcess:
        """`homeroll --config … ARGS` as ``user``, with a login's umask (022) unless told."""
        done = subprocess.run([*self.argv, "--config", str(self.config), *args], capture_output=True, text=True,
                              cwd="/", timeout=180, umask=umask, env={**os.environ, **self.env}, **_identity(user))
        if check and done.returncode != 0:
            raise AssertionError(f"{user}: homeroll {' '.join(args)} exited {done.returncode}: {done.stderr[-1500:]}")
        return done

    def start_service(self) -> subprocess.Popen:
        log = open(self.base / "service.log", "w")
        return subprocess.Popen([*self.argv, "--config", str(self.config), "--log-level", "debug", "run"],
                                stdout=subprocess.DEVNULL, stderr=log, cwd="/", umask=0o007,  # UMask=0007, as the unit
                                env={**os.environ, **self.env}, **_identity(self.service_user))

    def cleanup(self) -> None:
        for user in (self.service_user, self.member):
            subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)  # a service a failed test left
            subprocess.run(["userdel", "-f", user], capture_output=True)
        subprocess.run(["groupdel", self.service_user], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def house(any_user_python):
    home = House(any_user_python)
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", home.member],
                          capture_output=True, text=True)
    _need(made.returncode == 0, f"cannot create a user: {made.stderr.strip()}")
    try:
        yield home
    finally:
        home.cleanup()


def _setup(house: House) -> subprocess.CompletedProcess:
    return subprocess.run([*HOMEROLL, "setup", "--user", house.service_user, "--member", house.member,
                           "--library", str(house.lib), "--export", str(house.export), "--home-tz", "UTC",
                           "--root", str(house.root), "--real-users"], capture_output=True, text=True, timeout=180)


def _not_group_usable(folder: Path, gid: int) -> list[str]:
    bad = []
    for path in [folder, *folder.rglob("*")]:
        st = path.lstat()
        want = 0o070 if stat.S_ISDIR(st.st_mode) else 0o060
        if not stat.S_ISLNK(st.st_mode) and (st.st_gid != gid or st.st_mode & want != want):
            bad.append(f"{path.relative_to(folder)} {stat.filemode(st.st_mode)} gid {st.st_gid}")
    return bad


def test_a_member_uses_the_cli_as_themselves_while_the_service_writes(house):
    for i in range(6):
        write_file(house.lib / "2024" / f"IMG_{i:04}.jpg", jpeg_bytes(i, 64))
    first = _setup(house)
    assert first.returncode == 0, first.stderr
    assert f"running: usermod -aG {house.service_user} {house.member}" in first.stdout
    svc = pwd.getpwnam(house.service_user)
    # The scratch root stands in for /: point the config at the data dir setup made there.
    cfg = config_mod.load(house.config)
    cfg = config_mod.build(cfg.path, cfg.libraries, house.data, cfg.export_dir, "UTC",
                           {"faces": {"enabled": False}, "memories": {"cron": "0 0 1 1 *"},
                            "export": {"auto": False}, "watch": {"stable_seconds": 0.5}})
    config_mod.save(cfg)
    house.config.chmod(0o644)
    assert stat.S_IMODE(house.data.stat().st_mode) == 0o2770 and house.data.stat().st_uid == svc.pw_uid

    # Root once made the DB (say `sudo homeroll scan`): its files are root's. A re-run of setup hands them over.
    db = store.connect(cfg.db_path)
    memory_id = store_memories.insert_memory(db, "test:lisbon", {"kind": "trip", "title": "Lisbon", "start": "2024-06-01",
                                                                 "end": "2024-06-03", "reason": "a test trip"}, [], [])
    db.close()
    again = _setup(house)
    assert again.returncode == 0, again.stderr
    assert f"shared {house.data} with group {house.service_user}" in again.stdout
    assert cfg.db_path.stat().st_uid == svc.pw_uid and not _not_group_usable(house.data, svc.pw_gid)

    service = house.start_service()
    try:
        wait_for(lambda: house.as_user(house.member, "status", "--json", check=False).returncode == 0 and
                 json.loads(house.as_user(house.member, "status", "--json").stdout)["items"] >= 6,
                 timeout=90, interval=0.5, what="the service to index the first photos")
        # The member writes while the service writes: new photos arrive as they approve and back up.
        for i in range(6, 30):
            write_file(house.lib / "2025" / f"IMG_{i:04}.jpg", jpeg_bytes(i, 64))
        house.as_user(house.member, "memories", "approve", str(memory_id))
        house.as_user(house.member, "backup")  # the member makes the backups folder, with a login's umask
        shown = json.loads(house.as_user(house.member, "memories", "show", str(memory_id), "--json").stdout)
        assert shown["status"] == "approved" and shown["decided_by"] == house.member
        wait_for(lambda: json.loads(house.as_user(house.member, "status", "--json").stdout)["items"] >= 30,
                 timeout=90, interval=0.5, what="the photos added while the member worked")
        # The service's user can still write where the member wrote first (the nightly backup does this).
        house.as_user(house.service_user, "backup", umask=0o007)
        assert len(list((house.data / "backups").iterdir())) >= 2
        assert not _not_group_usable(house.data, svc.pw_gid)
        assert not [p for p in house.data.rglob("*") if p.stat().st_mode & 0o007], "others must get nothing"
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(timeout=60)
        except subprocess.TimeoutExpired:
            service.kill()
            raise
    log = (house.base / "service.log").read_text()
    assert code == 0 and "Traceback" not in log, log[-3000:]


def test_a_members_cron_run_once_leaves_files_the_service_can_write(house):
    """`homeroll run --once` (the cron way) as a member with a login's umask: what it makes is the group's."""
    for i in range(4):
        write_file(house.lib / "2024" / f"IMG_{i:04}.jpg", jpeg_bytes(100 + i, 64))
    assert _setup(house).returncode == 0
    svc = pwd.getpwnam(house.service_user)
    cfg = config_mod.load(house.config)
    config_mod.save(config_mod.build(cfg.path, cfg.libraries, house.data, cfg.export_dir, "UTC",
                                     {"faces": {"enabled": False}, "export": {"auto": False}}))
    house.config.chmod(0o644)
    house.as_user(house.member, "run", "--once")
    assert (house.data / "homeroll.db").is_file() and (house.data / "thumbs").is_dir()
    assert not _not_group_usable(house.data, svc.pw_gid)
    house.as_user(house.service_user, "scan", umask=0o007)  # and the service's user writes there after it
