"""The shared atomic write (store/fsutil.py) on real files: exports, thumbnails and the config rely on a
reader seeing the old bytes or the new ones, never half, and on no temp file being left behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from homeroll.daemon.store import fsutil

MODES = pytest.mark.parametrize("unnamed", [True, False], ids=["o_tmpfile", "named"])


def _names(folder):
    return sorted(os.listdir(folder))


@MODES
def test_write_creates_then_replaces(tmp_path, unnamed):
    target = tmp_path / "a.bin"
    fsutil.write_atomic(target, b"first", unnamed=unnamed)
    fsutil.write_atomic(target, b"second" * 10_000, unnamed=unnamed)
    assert target.read_bytes() == b"second" * 10_000
    assert _names(tmp_path) == ["a.bin"]


@MODES
def test_explicit_mode_is_exact_and_none_follows_the_umask(tmp_path, unnamed):
    old = os.umask(0o027)
    try:
        fsutil.write_atomic(tmp_path / "exact", b"x", 0o664, unnamed=unnamed)
        fsutil.write_atomic(tmp_path / "umasked", b"x", unnamed=unnamed)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "exact").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "umasked").stat().st_mode) == 0o640


@MODES
def test_file_and_folder_are_fsynced(tmp_path, monkeypatch, unnamed):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    fsutil.write_atomic(tmp_path / "a", b"data", unnamed=unnamed)
    assert synced == ["file", "dir"]


@MODES
def test_a_failing_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, unnamed):
    """A real EFBIG: the file size limit stops the write half way."""
    target = tmp_path / "config.toml"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from homeroll.daemon.store import fsutil
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            fsutil.write_atomic(Path({str(target)!r}), b"n" * 100_000, unnamed={unnamed})
        except OSError as exc:
            sys.exit(f"failed: {{exc.strerror}}")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1 and "failed: File too large" in proc.stderr, proc.stderr
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["config.toml"]


@MODES
def test_a_failing_rename_leaves_no_temp(tmp_path, unnamed):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "inside").write_bytes(b"keep")
    with pytest.raises(OSError):
        fsutil.write_atomic(taken, b"new", unnamed=unnamed)
    assert _names(tmp_path) == ["taken"] and (taken / "inside").read_bytes() == b"keep"


@MODES
def test_prepared_files_commit_in_order_and_the_rest_is_discarded(tmp_path, unnamed):
    (tmp_path / "b").write_bytes(b"old b")
    with fsutil.PreparedFile(tmp_path, b"new a", unnamed=unnamed) as first, \
            fsutil.PreparedFile(tmp_path, b"new b", unnamed=unnamed):
        temps = [n for n in _names(tmp_path) if n != "b"]
        assert len(temps) == (0 if unnamed else 2)  # nothing visible under a real name yet
        first.commit(tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"new a"
    assert (tmp_path / "b").read_bytes() == b"old b"  # never committed: dropped on leaving the block
    assert _names(tmp_path) == ["a", "b"]


@MODES
def test_sigkill_before_the_rename(tmp_path, unnamed):
    """Killed between writing and renaming: the old file stays; an unnamed temp is gone with the process,
    a named one is swept by the next writer (and a running writer's temp is not)."""
    target = tmp_path / "a.jpg"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from homeroll.daemon.store import fsutil
        prepared = fsutil.PreparedFile(Path({str(tmp_path)!r}), b"new" * 1000, unnamed={unnamed})
        print("prepared", flush=True)
        time.sleep(60)
        prepared.commit(Path({str(target)!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "prepared"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert target.read_bytes() == b"old"
    left = [n for n in _names(tmp_path) if n != "a.jpg"]
    if unnamed:
        assert left == []
        return
    assert len(left) == 1 and left[0].startswith(fsutil.TEMP_PREFIX) and left[0].endswith(fsutil.TEMP_SUFFIX)
    running = tmp_path / f"{fsutil.TEMP_PREFIX}{os.getpid()}-abc{fsutil.TEMP_SUFFIX}"
    running.write_bytes(b"mine, still writing")
    (tmp_path / ".other.tmp").write_bytes(b"not ours")
    assert fsutil.sweep_stale_temps(tmp_path) == 1
    assert _names(tmp_path) == sorted([".other.tmp", running.name, "a.jpg"])


def test_the_service_start_sweeps_thumbnail_folders(tmp_path):
    """A named thumbnail temp left by a killed index worker (a share without O_TMPFILE) goes at start."""
    from homeroll.daemon.ingest import thumbs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    folder = tmp_path / "thumbs" / "ab"
    folder.mkdir(parents=True)
    stale = folder / f"{fsutil.TEMP_PREFIX}{dead.pid}-x{fsutil.TEMP_SUFFIX}"
    stale.write_bytes(b"half a thumbnail")
    (folder / "abcd.jpg").write_bytes(b"a thumbnail")
    (tmp_path / f"{fsutil.TEMP_PREFIX}{dead.pid}-y{fsutil.TEMP_SUFFIX}").write_bytes(b"half a heartbeat")
    assert thumbs.sweep_temps(tmp_path) == 2
    assert _names(folder) == ["abcd.jpg"]
    assert thumbs.sweep_temps(tmp_path / "nowhere") == 0
