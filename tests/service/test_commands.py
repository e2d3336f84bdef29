"""The index worker's command queue: equal waiting commands are one, reloads are all kept, in order."""

from __future__ import annotations

import threading

from homeroll.daemon.service.commands import CommandQueue, Job, Reconcile, Reload, Subtree


def drain(commands: CommandQueue) -> list:
    out = []
    while (command := commands.take()) is not None:
        out.append(command)
    return out


def test_equal_waiting_commands_are_one():
    commands = CommandQueue()
    assert commands.put(Reconcile()) is True
    assert commands.put(Reconcile()) is False  # three overflow notices make one reconcile
    assert commands.put(Reconcile("/lib/a")) is True
    assert commands.put(Subtree("/lib/a", "2024/06")) is True
    assert commands.put(Subtree("/lib/a", "2024/06")) is False
    assert commands.put(Job("faces")) is True
    assert drain(commands) == [Reconcile(), Reconcile("/lib/a"), Subtree("/lib/a", "2024/06"), Job("faces")]


def test_a_taken_command_can_be_queued_again():
    commands = CommandQueue()
    commands.put(Job("faces"))
    assert commands.take() == Job("faces")
    assert commands.put(Job("faces")) is True  # the faces job re-queues itself after a chunk
    assert drain(commands) == [Job("faces")]


def test_every_reload_is_kept_in_order_even_with_equal_configs(make_config):
    first, second = make_config(), make_config()
    commands = CommandQueue()
    assert commands.put(Reload(first)) and commands.put(Reload(first)) and commands.put(Reload(second))
    taken = drain(commands)
    assert [type(c) for c in taken] == [Reload, Reload, Reload]
    assert [c.cfg for c in taken] == [first, first, second]


def test_threads_putting_the_same_command_queue_it_once():
    commands = CommandQueue()
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        for _ in range(200):
            commands.put(Reconcile())

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert drain(commands) == [Reconcile()]
