"""`homeroll status` tells a running service from a dead one: after kill -9 the DB still says "running",
but the pid is gone and the heartbeat stops, and status says "not responding since …"."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

from homeroll.daemon.service import liveness
from tests.conftest import run_cli
from tests.service.helpers import ServiceProcess, wait_for


def _status(cfg) -> dict:
    return json.loads(run_cli(cfg.path, "status", "--json").stdout)["service"]


def test_status_after_kill_9_says_not_responding_and_a_restart_says_running(service_config, tmp_path):
    cfg, _, _ = service_config("inotify")
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        running = wait_for(lambda: (s := _status(cfg))["state"] == "running" and s["heartbeat"] and s, 30,
                           what="a running state with a heartbeat")
        assert running["pid"] == str(svc.proc.pid) and running["not_responding_since"] is None
        assert liveness.heartbeat_path(cfg.data_dir).read_text().strip() == str(svc.proc.pid)
        svc.signal(signal.SIGKILL)
        svc.proc.wait(timeout=10)
    dead = _status(cfg)
    assert dead["state"] == "not responding", dead
    assert dead["not_responding_since"] == dead["heartbeat"] == running["heartbeat"]
    plain = run_cli(cfg.path, "status").stdout.strip().splitlines()[-1]
    assert plain == f"service: not responding since {dead['heartbeat']}; pid {running['pid']} is gone"
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        wait_for(lambda: _status(cfg)["state"] == "running", 30, what="running again after the restart")
        assert svc.stop() == 0
    assert _status(cfg)["state"] == "stopped"
    assert run_cli(cfg.path, "status").stdout.strip().splitlines()[-1] == "service: stopped"


def test_a_live_pid_with_a_stale_heartbeat_is_not_responding_too(tmp_path):
    """A hung service (or a pid reused by another program) stops beating: three intervals later it is
    not responding, by the reader's clock."""
    kv = {"service.state": "running", "service.pid": "1", "service.started_at": "2025-06-01T10:00:00+00:00"}
    liveness.beat(tmp_path, first=True)
    facts = liveness.read(tmp_path, kv)
    assert facts.pid_alive is True  # pid 1 always exists
    soon = facts.heartbeat + timedelta(seconds=liveness.STALE_AFTER_SECONDS - 1)
    late = facts.heartbeat + timedelta(seconds=liveness.STALE_AFTER_SECONDS + 1)
    assert liveness.assess(kv, facts, soon)["state"] == "running"
    stale = liveness.assess(kv, facts, late)
    assert stale["state"] == "not responding" and stale["not_responding_since"] == stale["heartbeat"]
    never = liveness.read(tmp_path / "elsewhere", kv)  # started, never beat (hung before its first beat)
    assert liveness.assess(kv, never, datetime(2025, 6, 1, 10, 0, 30, tzinfo=UTC))["state"] == "running"
    assert liveness.assess(kv, never, datetime(2025, 6, 1, 10, 5, tzinfo=UTC))["not_responding_since"] == \
        "2025-06-01T10:00:00+00:00"
    assert liveness.assess({}, never, late) == {"state": None, "heartbeat": None, "not_responding_since": None}
