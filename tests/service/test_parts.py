"""The service's parts on their own: stability window, temp names, mount detection, sd_notify, jobs, watchers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from homeroll.daemon.errors import UserError
from homeroll.daemon.ingest import roots
from homeroll.daemon.ingest.roots import should_ignore
from homeroll.daemon.service import jobs
from homeroll.daemon.service.sdnotify import Notifier
from homeroll.daemon.service.stability import StabilityTracker
from homeroll.daemon.service.watch import Watchers, fstype_for, needs_polling, parse_mounts
from tests.service.helpers import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_path_settles_only_after_the_whole_window_without_change():
    clock = FakeClock()
    tracker = StabilityTracker(5.0, clock=clock)
    tracker.note("/r", "a.jpg")
    assert tracker.take_due() == [("/r", "a.jpg")]  # first look at once
    assert tracker.settle(("/r", "a.jpg"), (10, 1)) is False
    clock.now += 4.9
    assert tracker.take_due() == []
    clock.now += 0.1
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (20, 2)) is False  # it grew: the window starts again
    clock.now += 5.0
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (20, 2)) is True
    assert len(tracker) == 0


def test_an_event_inside_the_window_restarts_it_even_if_size_and_mtime_look_the_same():
    clock = FakeClock()
    tracker = StabilityTracker(5.0, clock=clock)
    tracker.note("/r", "a.jpg")
    tracker.take_due()
    tracker.settle(("/r", "a.jpg"), (10, 1))
    clock.now += 3
    tracker.note("/r", "a.jpg")  # a write whose mtime tick we could not see
    clock.now += 2
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (10, 1)) is False
    clock.now += 3
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (10, 1)) is True


def test_inotify_writes_after_a_first_look_do_not_double_the_wait():
    """First look in the middle of a copy; inotify reports the rest of the writes; one window after them is enough."""
    clock = FakeClock()
    tracker = StabilityTracker(5.0, clock=clock)
    tracker.note("/r", "a.jpg", trusted=True)
    tracker.take_due()
    tracker.settle(("/r", "a.jpg"), (0, 1))  # empty so far
    clock.now += 0.05
    tracker.note("/r", "a.jpg", trusted=True)  # IN_MODIFY / IN_CLOSE_WRITE
    clock.now += 4.95
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (600, 2)) is False  # changed, explained by the events at +0.05
    clock.now += 0.05
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (600, 2)) is True


def test_polling_hints_never_shorten_the_window():
    """A poll reports a change late; a change seen at a look starts the window at that look."""
    clock = FakeClock()
    tracker = StabilityTracker(5.0, clock=clock)
    tracker.note("/r", "a.jpg")
    tracker.take_due()
    tracker.settle(("/r", "a.jpg"), (0, 1))
    clock.now += 0.05
    tracker.note("/r", "a.jpg")
    clock.now += 4.95
    tracker.take_due()
    assert tracker.settle(("/r", "a.jpg"), (600, 2)) is False
    clock.now += 4.9
    assert tracker.take_due() == []
    clock.now += 0.1
    assert tracker.take_due() == [("/r", "a.jpg")]
    assert tracker.settle(("/r", "a.jpg"), (600, 2)) is True


def test_a_full_backlog_asks_for_a_reconcile_instead_of_growing():
    tracker = StabilityTracker(1.0, max_pending=3)
    for i in range(5):
        tracker.note("/r", f"{i}.jpg")
    assert len(tracker) == 3
    assert tracker.take_overflow() is True
    assert tracker.take_overflow() is False


@pytest.mark.parametrize("name", [
    ".syncthing.IMG_1.jpg.tmp", "~syncthing~IMG_1.jpg.tmp", ".IMG_1.jpg.Ab3dE9", "IMG_1.jpg.3f2a.partial",
    "IMG_1.jpg.part", ".IMG_1.jpg.~1a2b", "IMG_1.jpg.crdownload",
])
def test_sync_tool_temp_names_are_never_items(name):
    assert roots.ignored_reason(name) in (roots.TEMP_REASON, "hidden file")
    assert should_ignore(name)
    assert should_ignore(f"Camera/{name}")


@pytest.mark.parametrize("name", ["IMG_1.jpg", "PXL_20240101_101010.mp4", "IMG_1.HEIC", "part.jpg"])
def test_real_names_are_kept(name):
    assert not should_ignore(f"Camera/{name}")
    assert should_ignore(f".stversions/{name}")


MOUNTS = textwrap.dedent("""\
    /dev/root / ext4 rw 0 0
    //nas/photos /srv/photos cifs rw 0 0
    nas:/export /srv/nfs nfs4 rw 0 0
    sshfs#me@host: /mnt/remote fuse.sshfs rw 0 0
    /dev/sda1 /media/usb fuseblk rw 0 0
    /dev/sdb1 /srv/my\\040photos ext4 rw 0 0
""")


@pytest.mark.parametrize("path,fstype,polling", [
    ("/srv/photos/Camera", "cifs", True), ("/srv/nfs", "nfs4", True), ("/mnt/remote/x", "fuse.sshfs", True),
    ("/media/usb/DCIM", "fuseblk", False), ("/srv/my photos/a", "ext4", False), ("/home/me", "ext4", False),
    ("/srv/photosX", "ext4", False),
])
def test_network_and_fuse_mounts_get_polling(path, fstype, polling):
    assert fstype_for(path, MOUNTS) == fstype
    assert needs_polling(fstype) is polling


def test_parse_mounts_reads_the_real_table():
    with open("/proc/self/mounts") as fh:
        assert ("/", fstype_for("/", fh.read())) in parse_mounts(open("/proc/self/mounts").read())


def _bound_socket(abstract: bool = False):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"homeroll-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        folder = tempfile.mkdtemp(prefix="hrn-")
        address = os.path.join(folder, "n.sock")
        sock.bind(address)
    sock.settimeout(2)
    return sock, address


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_sends_ready_status_watchdog_stopping(abstract):
    sock, address = _bound_socket(abstract)
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert "NOTIFY_SOCKET" not in env  # children never inherit it
    assert notifier.enabled and notifier.watchdog_interval == 2.0
    notifier.ready(status="3 items")
    assert sock.recv(1024) == b"READY=1\nSTATUS=3 items"
    assert notifier.watchdog_due(now=time.monotonic())
    notifier.watchdog()
    assert sock.recv(1024) == b"WATCHDOG=1"
    assert not notifier.watchdog_due()
    notifier.reloading()
    assert sock.recv(1024).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
    notifier.stopping()
    assert sock.recv(1024) == b"STOPPING=1"
    notifier.close()
    sock.close()


def test_sd_notify_is_a_no_op_without_the_socket():
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog_due() is False


def test_watchdog_usec_for_another_pid_is_ignored():
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_interval is None


def test_jobs_have_fixed_ids_and_are_replaced_not_doubled(make_config):
    cfg = make_config(faces={"cron": "*/5 * * * *"})
    scheduler = BackgroundScheduler()
    asked: list[str] = []
    jobs.schedule_jobs(scheduler, cfg, asked.append)
    jobs.schedule_jobs(scheduler, cfg, asked.append)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == ["backup", "export", "faces", "reconcile", "select"]
    for job in scheduler.get_jobs():
        assert job.coalesce is True and job.max_instances == 1


def test_keep_0_schedules_no_nightly_backup(make_config, memdb, tmp_path):
    cfg = make_config(backup={"keep": 0})
    scheduler = BackgroundScheduler()
    jobs.schedule_jobs(scheduler, cfg, lambda name: None)
    assert "backup" not in {job.id for job in scheduler.get_jobs()}
    cfg = make_config(backup={"keep": 2})
    jobs.run_step("backup", cfg, memdb)  # the scheduled step itself, into <data_dir>/backups
    assert len(list((cfg.data_dir / "backups").glob("homeroll-*.db"))) == 1


def test_a_bad_crontab_line_is_one_clear_error(make_config):
    cfg = make_config(memories={"cron": "every night"})
    with pytest.raises(UserError, match=r"\[memories\] cron"):
        jobs.schedule_jobs(BackgroundScheduler(), cfg, lambda name: None)


def test_a_step_whose_code_cannot_be_imported_fails_loudly(make_config, memdb, monkeypatch):
    """A broken install must not look like a quiet night: the step raises and the worker logs it as failed."""
    cfg = make_config()
    monkeypatch.setitem(sys.modules, "homeroll.daemon.memories.select", None)  # as if the module were broken
    with pytest.raises(ImportError):
        jobs.run_step("select", cfg, memdb)


def test_inotify_running_out_falls_back_to_polling(tmp_path):
    """EMFILE while setting up inotify (here: out of file descriptors) must give a polling watcher, not a crash."""
    lib = tmp_path / "lib"
    lib.mkdir()
    script = textwrap.dedent(f"""
        import os, resource, time
        from homeroll.daemon.service.stability import StabilityTracker
        from homeroll.daemon.service.watch import Watchers
        tracker = StabilityTracker(0.1)
        w = Watchers(tracker, mode="inotify", poll_interval=0.2, on_subtree=lambda r, p: None,
                     on_overflow=lambda: None)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        used = len(os.listdir("/proc/self/fd")) - 1  # minus the fd listdir itself had open
        # Room for the inotify fd but not for watchdog's wake-up pipe: a real EMFILE inside watchdog,
        # with one descriptor left for the polling snapshot.
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 2, hard))
        try:
            watch = w.start_root({str(lib)!r})
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        print(watch.watcher, watch.note)
        open(os.path.join({str(lib)!r}, "new.jpg"), "wb").write(b"x")
        for _ in range(50):
            if len(tracker):
                break
            time.sleep(0.1)
        print("noted", len(tracker))
        w.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("polling polling: inotify failed")
    assert out.stdout.splitlines()[1] == "noted 1"
    assert "max_user_watches" in out.stderr


def test_a_root_made_again_on_its_old_inode_is_watched_again(tmp_path):
    """ext4 often gives a deleted folder's inode to the next one (and a disk mounted again has its old
    root inode): the stopped watch must still be seen as stopped, or the root is never watched again."""
    lib = tmp_path / "lib"
    lib.mkdir()
    tracker = StabilityTracker(0.1)
    w = Watchers(tracker, mode="inotify", poll_interval=0.2, on_subtree=lambda r, p: None,
                 on_overflow=lambda: None)
    try:
        for _ in range(100):  # until the file system hands the inode back
            w.start_root(str(lib))
            assert not w.needs_restart(str(lib))
            before = os.stat(lib).st_ino
            shutil.rmtree(lib)
            lib.mkdir()
            if os.stat(lib).st_ino == before:
                break
        else:
            pytest.skip("this file system never reused the folder's inode")
        wait_for(lambda: w.needs_restart(str(lib)), 5, what="the stopped watch seen as stopped")
        w.start_root(str(lib))
        (lib / "new.jpg").write_bytes(b"x")
        wait_for(lambda: len(tracker), 5, what="a new file seen by the new watch")
    finally:
        w.close()


def test_wait_for_helper_fails_loudly():
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: False, 0.2)
