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
