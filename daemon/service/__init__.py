"""The service stage: `homeroll run`, the long-running process.

``main`` runs the process (signals, sd_notify, the loop); ``worker`` is the single DB writer, fed by
typed ``commands``; ``watch`` and ``stability`` turn file-system events into settled paths; ``jobs``
is the schedule; ``sdnotify`` talks to systemd.
"""
