"""Routing: which agent answers what, and when something must escalate.

The engine (queues, skills, capacity, presence, escalation, SLA) is built by the
routing issue; until then conversations wait unassigned in their queue.
"""
