"""The process pool that indexing and the faces job share, on real spawned workers running a toy job.

A toy job (sleep, exit, answer) makes hangs and crashes exact; the indexer's own slow decode and the
corpus's crashing files are covered by test_indexing and test_corpus_scan.
"""

from __future__ import annotations

import multiprocessing
import os
import time

from homeroll.daemon.ingest.workers import Failure, ProcessPool


def _toy_worker(settings):
    def run(job):
        kind, value = job
        if kind == "sleep":
            time.sleep(value)
        elif kind == "exit":
            os._exit(value)
        elif kind == "env":
            return os.environ.get(value)
        return value, os.getpid(), os.nice(0) - settings["parent_nice"]

    return run


def _pool(workers: int, timeout: float, nice: int = 0) -> ProcessPool:
    return ProcessPool(_toy_worker, {"parent_nice": os.nice(0)}, workers, timeout, nice=nice, role="test")


def test_a_hang_or_a_crash_costs_its_own_job_and_a_fresh_worker_takes_the_rest():
    pool = _pool(1, 1.0, nice=5)
    jobs = [("ok", 1), ("sleep", 30), ("ok", 2), ("exit", 3), ("ok", 4)]
    try:
        results = dict(pool.map(jobs))
    finally:
        pool.close()
    assert results.keys() == set(jobs)
    assert results[("sleep", 30)] == Failure(True, seconds=1.0) and "timed out after 1 s" in str(Failure(True, 1.0))
    assert results[("exit", 3)] == Failure(False, exit_code=3)
    answers = [results[("ok", n)] for n in (1, 2, 4)]
    assert [a[0] for a in answers] == [1, 2, 4]
    assert len({a[1] for a in answers}) == 3  # a new process after the hang, and after the crash
    assert {a[2] for a in answers} == {min(5, 19 - os.nice(0))}


def test_an_abandoned_map_leaves_no_stale_answer_for_the_next():
    pool = _pool(1, 30.0)
    try:
        for _ in pool.map([("sleep", 0.3), ("ok", 1), ("ok", 2)]):
            break
        assert [(job, answer[0]) for job, answer in pool.map([("ok", 3)])] == [(("ok", 3), 3)]
    finally:
        pool.close()


def test_a_worker_that_died_while_idle_is_replaced_before_the_next_job():
    pool = _pool(2, 30.0)
    try:
        assert sorted(answer[0] for _, answer in pool.map([("ok", 1), ("ok", 2)])) == [1, 2]
        for child in multiprocessing.active_children():
            if child.name == "homeroll-test-worker":
                child.kill()
                child.join(5)
        assert not pool.alive()
        assert sorted(answer[0] for _, answer in pool.map([("ok", 3), ("ok", 4), ("ok", 5)])) == [3, 4, 5]
        assert pool.alive()
    finally:
        pool.close()


def test_a_worker_killed_between_two_jobs_of_one_map_is_not_charged_the_next():
    """The OOM killer takes an idle worker mid-scan: the next file must be read, not recorded as a crash."""
    pool = _pool(1, 30.0)
    pool.IN_FLIGHT = 1  # one job at a time, so the kill lands exactly between two jobs
    answers = []
    try:
        for job, answer in pool.map([("ok", 1), ("ok", 2), ("ok", 3)]):
            answers.append((job, answer))
            if job == ("ok", 1):
                for child in multiprocessing.active_children():
                    if child.name == "homeroll-test-worker":
                        child.kill()
                        child.join(5)
    finally:
        pool.close()
    assert [job for job, _ in answers] == [("ok", 1), ("ok", 2), ("ok", 3)]
    assert not any(isinstance(answer, Failure) for _, answer in answers), answers


def test_a_worker_runs_numpy_blas_on_one_thread_unless_the_user_chose(monkeypatch):
    # one worker per core already: BLAS threads of its own in each would fight the others for the cores
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    pool = _pool(1, 30.0)
    try:
        answers = [result for _, result in pool.map([("env", "OPENBLAS_NUM_THREADS"), ("env", "OMP_NUM_THREADS")])]
    finally:
        pool.close()
    assert answers == ["1", "3"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ and os.environ["OMP_NUM_THREADS"] == "3"


def _unusable_worker(settings):
    from homeroll.daemon.errors import UserError

    raise UserError("face model x.dat is not dlib's face ResNet: reinstall the 'face-recognition-models' package")


def test_a_worker_whose_setup_names_its_problem_gives_that_line_not_an_exit_code():
    import pytest

    from homeroll.daemon.errors import UserError

    pool = ProcessPool(_unusable_worker, {}, 1, 30.0, nice=0, role="face")
    try:
        with pytest.raises(UserError, match=r"^the face worker process could not start: face model x\.dat is not"):
            list(pool.map([("sleep", 0)]))
    finally:
        pool.close()
