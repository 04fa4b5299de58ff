"""The routing configuration as the admin pages show it: queues, escalation, SLA policies, capacity.

Queues, skills expressions, escalation steps and SLA policies are defined in
``config/hub.toml`` (docs/routing.md), so this is read-only; agents' queue
memberships and skills are stored per user and changed through ``PATCH /api/v1/users/{id}``.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from hub.api.guard import require_role
from hub.api.jsonio import json_response
from hub.api.keys import ROUTING, SERVICES
from hub.api.spec import operation
from hub.auth.principal import Role
from hub.routing.model import EscalationStep, QueueRules
from hub.routing.sla import SlaPolicy

routes = web.RouteTableDef()


class StepView(msgspec.Struct):
    after_seconds: float
    actions: list[str]
    widen_levels: int
    skills: str | None
    overflow_to: str | None
    raise_priority: int
    alert: bool


class QueueConfigView(msgspec.Struct):
    id: int
    name: str
    skills: str | None
    priority: int
    strategy: str
    offer_timeout_seconds: float
    fallback: list[str]
    fallback_after_seconds: float
    wrap_up_seconds: float
    overflow_when_nobody: str | None
    service_level_seconds: float
    escalation: list[StepView]


class SlaPolicyView(msgspec.Struct):
    name: str
    targets: dict[str, float]  # target -> seconds of open calendar time
    calendar: str
    warning_at: float
    queues: list[str]
    priorities: list[int]
    channels: list[str]
    media: list[str]


class RoutingConfigView(msgspec.Struct):
    """Read-only: edit ``config/hub.toml`` and restart to change it."""

    source: str
    enabled: bool
    queues: list[QueueConfigView]
    sla: list[SlaPolicyView]
    capacity: dict[str, int]
    stats_interval_seconds: float
    stats_window_seconds: float


def _step(step: EscalationStep) -> StepView:
    return StepView(
        after_seconds=step.after, actions=step.actions, widen_levels=step.relief,
        skills=step.skills.source if step.skills is not None else None, overflow_to=step.overflow_to,
        raise_priority=step.raise_priority, alert=step.alert,
    )


def _queue(rules: QueueRules, ids: dict[str, int]) -> QueueConfigView:
    return QueueConfigView(
        id=ids.get(rules.name, rules.id), name=rules.name,
        skills=rules.skills.source if rules.skills is not None else None, priority=rules.priority,
        strategy=rules.strategy.value, offer_timeout_seconds=rules.offer_timeout,
        fallback=[f.value for f in rules.fallback], fallback_after_seconds=rules.fallback_after,
        wrap_up_seconds=rules.wrap_up, overflow_when_nobody=rules.overflow_when_nobody,
        service_level_seconds=rules.service_level_seconds, escalation=[_step(s) for s in rules.escalation],
    )


def _policy(policy: SlaPolicy) -> SlaPolicyView:
    return SlaPolicyView(
        name=policy.name, targets={str(k): float(v) for k, v in policy.goals.items()}, calendar=policy.calendar.name,
        warning_at=policy.warning_share, queues=list(policy.queues), priorities=list(policy.priorities),
        channels=list(policy.channels), media=list(policy.media),
    )


@operation("GET", "/api/v1/routing/config",
           summary="Queues, escalation steps, SLA policies and capacity from the config file (supervisors, admins)",
           tag="queues", response=RoutingConfigView, errors=(401, 403))
@routes.get("/api/v1/routing/config")
async def get_config(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    settings = request.app[ROUTING].settings
    ids = request.app[SERVICES].queues
    return json_response(RoutingConfigView(
        source="config", enabled=settings.enabled,
        queues=[_queue(q, ids) for q in settings.queues], sla=[_policy(p) for p in settings.sla],
        capacity=dict(settings.capacity.limits), stats_interval_seconds=settings.stats_interval,
        stats_window_seconds=settings.stats_window,
    ))
