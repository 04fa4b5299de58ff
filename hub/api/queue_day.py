"""A queue's day so far, in buckets, for the supervisor wall's charts (``hub.routing.today``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id, query_choice, query_text
from hub.api.spec import Param, operation
from hub.db.models import utcnow
from hub.errors import BadRequest, NotFound
from hub.routing.today import Bucket, day_series

routes = web.RouteTableDef()

BUCKETS = ("15", "30", "60")


class BucketView(msgspec.Struct):
    """One slice: arrivals, first human replies and their mean time, answered/abandoned and the service level."""

    start: datetime
    entered: int
    first_responses: int
    first_response_avg_seconds: float | None
    answered: int
    answered_in_target: int
    abandoned: int
    service_level: float | None


class DayView(msgspec.Struct):
    queue_id: int
    queue: str
    timezone: str
    day_start: datetime
    bucket_seconds: int
    buckets: list[BucketView]
    total: BucketView


def _view(b: Bucket) -> BucketView:
    return BucketView(
        start=b.start, entered=b.entered, first_responses=b.first_responses,
        first_response_avg_seconds=b.first_response_avg_seconds, answered=b.answered,
        answered_in_target=b.answered_in_target, abandoned=b.abandoned, service_level=b.service_level,
    )


def _zone(request: web.Request) -> ZoneInfo:
    name = query_text(request, "tz", max_length=64, min_length=1) or "UTC"
    if not all(c.isalnum() or c in "/_-+" for c in name) or name.startswith("/") or ".." in name:
        raise BadRequest("query parameter 'tz' must be an IANA time zone such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(f"query parameter 'tz': unknown time zone {name!r}") from None


@operation(
    "GET", "/api/v1/queues/{id}/today",
    summary="The queue's day so far in buckets: volume, first response time, service level",
    tag="queues", response=DayView,
    params=(
        id_path_param(description="queue id"),
        Param("tz", "query", {"type": "string", "minLength": 1, "maxLength": 64, "default": "UTC"},
              "IANA time zone whose midnight starts the day"),
        Param("bucket", "query", {"type": "string", "enum": list(BUCKETS), "default": "60"}, "bucket size in minutes"),
    ),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/queues/{id}/today")
async def get_today(request: web.Request) -> web.Response:
    """Agents may ask for their own queues; another queue reads as 404."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    queue_id = path_id(request)
    names = {qid: name for name, qid in services.queues.items()}
    if queue_id not in names or not (principal.sees_everything or queue_id in principal.queue_ids):
        raise NotFound("no such queue")
    zone = _zone(request)
    minutes = int(query_choice(request, "bucket", BUCKETS) or "60")
    series = await day_series(services, queue_id, now=utcnow(), zone=zone, bucket_minutes=minutes)
    assert series.total is not None
    return json_response(DayView(
        queue_id=queue_id, queue=names[queue_id], timezone=zone.key, day_start=series.day_start,
        bucket_seconds=series.bucket_seconds, buckets=[_view(b) for b in series.buckets], total=_view(series.total),
    ))
