"""Routing: which agent answers what, and when something must escalate (docs/routing.md).

``engine`` is the pure core (state in, decisions out, time passed in); ``service`` runs
it in the process that holds the router lease, ``router`` keeps it in line with the
database and ``apply`` carries its decisions out through the inbox actions. ``sla``,
``calendar``, ``erlang`` and ``simulate`` are pure as well.
"""
