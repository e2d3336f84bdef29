"""Bulk drops: 2,000 files each indexed once with bounded memory; kill -9 mid-ingest loses nothing."""

from __future__ import annotations

import time

import pytest

from tests.conftest import cli_json
from tests.service.helpers import ServiceProcess, jpeg_bytes, wait_for, write_file


def _vm_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def test_a_bulk_drop_of_2000_files_is_indexed_once_each_with_bounded_memory(service_config, tmp_path):
    cfg, lib, db = service_config("inotify")
    payloads = [jpeg_bytes(i) for i in range(2000)]
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM roots WHERE last_scan_at IS NOT NULL"), 15,
                 what="the start-up reconcile")
        idle_rss = _vm_kib(svc.proc.pid, "VmRSS")
        started = time.monotonic()
        for i, data in enumerate(payloads):
            write_file(lib / f"phone-{i % 4}" / f"IMG_{i:05d}.jpg", data)
        wait_for(lambda: db.count("SELECT COUNT(*) FROM paths") == 2000, 150, interval=0.5,
                 what="all 2000 files indexed")
        took = time.monotonic() - started
        peak = _vm_kib(svc.proc.pid, "VmHWM")
        assert db.count("SELECT COUNT(*) FROM items") == 2000
        assert db.count("SELECT COUNT(DISTINCT root || relpath) FROM paths") == 2000
        assert db.count("SELECT COUNT(*) FROM skipped") == 0
        time.sleep(1.5)  # nothing is indexed twice afterwards
        assert db.count("SELECT COUNT(*) FROM items") == 2000
        assert svc.stop() == 0
    media = cli_json(cfg.path, "media", "--json")
    assert len(media) == 2000 and len({m["path"] for m in media}) == 2000
    print(f"2000 files in {took:.1f} s; service RSS idle {idle_rss // 1024} MiB, peak {peak // 1024} MiB")
    assert peak < 400 * 1024, f"service peak RSS {peak // 1024} MiB"
    assert peak - idle_rss < 150 * 1024, "memory grew with the size of the drop"


@pytest.mark.parametrize("mode", ["inotify", "polling"])
def test_kill_9_in_the_middle_of_a_bulk_ingest_loses_nothing(service_config, tmp_path, mode):
    cfg, lib, db = service_config(mode)
    total = 200
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        for i in range(total):
            write_file(lib / "drop" / f"IMG_{i:04d}.jpg", jpeg_bytes(5000 + i))
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") >= 20, 60, what="ingest under way")
        svc.kill9()
    done_before = db.count("SELECT COUNT(*) FROM items")
    assert done_before < total, "the kill came too late to test anything"
    assert db.query("PRAGMA quick_check") == [("ok",)]
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM paths") == total, 90, interval=0.3,
                 what="everything after the restart")
        time.sleep(1.5)
        assert db.count("SELECT COUNT(*) FROM items") == total
        assert db.count("SELECT COUNT(*) FROM paths") == total
        assert db.count("SELECT COUNT(*) FROM skipped") == 0
        assert svc.stop() == 0
    assert db.query("PRAGMA quick_check") == [("ok",)]
