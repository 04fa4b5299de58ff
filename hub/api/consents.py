"""The consent ledger and the restriction of processing of a contact, over REST.

Whoever may see a contact reads its ledger and records statements (an agent notes
"no marketing calls" from a phone call); only admins restrict processing (Art. 18).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api import cursor
from hub.api.contact_views import load_contact
from hub.api.conversation_views import UserRef
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import cursor_param, id_path_param, limit_param, path_id, query_limit, single
from hub.api.spec import operation
from hub.crm_link import consent as ledger
from hub.crm_link.restriction import ensure_privacy_officer, lift_restriction, restrict_processing
from hub.db.models import ConsentRecord, Contact, User, utcnow
from hub.errors import NotFound, ValidationFailed

routes = web.RouteTableDef()

Purpose = Literal["service", "marketing", "all"]
ConsentChannel = Literal["email", "sms", "whatsapp", "voice", "chat", "social", "api", "all"]
EvidenceValue = Annotated[str, msgspec.Meta(max_length=1000, pattern=r"^[^\x00]*$")] | int | float | bool | None
EvidenceKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
CLOCK_SKEW = timedelta(minutes=5)


class ConsentBody(msgspec.Struct, forbid_unknown_fields=True):
    """A consent statement. ``all`` (purpose or channel) is only allowed when withdrawing."""

    purpose: Purpose
    channel: ConsentChannel
    granted: bool
    source: Annotated[str, msgspec.Meta(pattern=ledger.SOURCE_PATTERN)] | None = None
    text_version: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    evidence: Annotated[dict[EvidenceKey, EvidenceValue], msgspec.Meta(max_length=20)] = {}
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class ConsentView(msgspec.Struct):
    """One statement of the append-only ledger."""

    id: int
    purpose: str
    channel: str
    granted: bool
    source: str
    text_version: str | None
    evidence: dict[str, EvidenceValue]
    actor: UserRef | None
    occurred_at: datetime
    recorded_at: datetime


class ConsentPage(msgspec.Struct):
    items: list[ConsentView]
    next: str | None


class ConsentStateView(msgspec.Struct):
    """Whether a purpose on a channel is allowed now; ``granted`` null: no statement, the default applies."""

    purpose: str
    channel: str
    allowed: bool
    granted: bool | None
    since: datetime | None
    consent_id: int | None


class ConsentStates(msgspec.Struct):
    items: list[ConsentStateView]


class RestrictionBody(msgspec.Struct, forbid_unknown_fields=True):
    """Why processing is restricted (e.g. "accuracy contested, Art. 18(1)(a)")."""

    reason: Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00]*$")] | None = None


class RestrictionView(msgspec.Struct):
    contact_id: int
    restricted: bool
    restricted_at: datetime | None
    reason: str | None


CONTACT_ID = (id_path_param(description="contact id"),)


@operation(
    "GET",
    "/api/v1/contacts/{id}/consents",
    summary="The contact's consent ledger, newest statement first",
    tag="privacy",
    response=ConsentPage,
    params=(*CONTACT_ID, limit_param(), cursor_param()),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/contacts/{id}/consents")
async def list_consents(request: web.Request) -> web.Response:
    """One page of the ledger."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    after = single(request, "cursor")
    await load_contact(services, principal, contact_id)
    stmt = (
        select(ConsentRecord, User.name)
        .outerjoin(User, User.id == ConsentRecord.actor_user_id)
        .where(ConsentRecord.contact_id == contact_id)
    )
    if after is not None:
        stmt = stmt.where(ConsentRecord.id < cursor.id_only(services.settings.secret_key, "consents", after))
    stmt = stmt.order_by(ConsentRecord.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        rows = (await session.execute(stmt)).all()
    items = [_view(record, actor) for record, actor in rows[:limit]]
    next_cursor = cursor.next_by_id(services.settings.secret_key, "consents", rows, limit, lambda r: r[0].id)
    return json_response(ConsentPage(items=items, next=next_cursor))


@operation(
    "POST",
    "/api/v1/contacts/{id}/consents",
    summary="Record a consent statement (grant or withdrawal)",
    tag="privacy",
    request=ConsentBody,
    response=ConsentView,
    status=201,
    params=CONTACT_ID,
    errors=(400, 401, 403, 404, 409, 413, 422),
)
@routes.post("/api/v1/contacts/{id}/consents")
async def post_consent(request: web.Request) -> web.Response:
    """Append to the ledger; ``source`` defaults to ``agent`` (session) or ``api`` (token)."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    body = await read_json(request, ConsentBody)
    if body.occurred_at is not None and body.occurred_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("occurred_at lies in the future")
    async with services.transaction() as unit:
        record = await ledger.record_consent(
            unit,
            contact_id,
            body.purpose,
            body.channel,
            body.granted,
            body.source or ("agent" if principal.via == "session" else "api"),
            body.text_version,
            body.evidence,
            actor_user_id=principal.user_id,
            occurred_at=body.occurred_at,
        )
    return json_response(_view(record, principal.name), status=201)


@operation(
    "GET",
    "/api/v1/contacts/{id}/consents/current",
    summary="What the contact allows now, per purpose and channel",
    tag="privacy",
    response=ConsentStates,
    params=CONTACT_ID,
    errors=(401, 404),
)
@routes.get("/api/v1/contacts/{id}/consents/current")
async def current_consents(request: web.Request) -> web.Response:
    """Every purpose × channel with its effective state."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    async with services.sessions() as session:
        states = await ledger.consent_states(session, contact_id)
    return json_response(
        ConsentStates(
            items=[
                ConsentStateView(s.purpose, s.channel, s.allowed, s.granted, s.since, s.consent_id) for s in states
            ]
        )
    )


@operation(
    "GET",
    "/api/v1/contacts/{id}/restriction",
    summary="Whether processing of the contact is restricted (Art. 18), and why",
    tag="privacy",
    response=RestrictionView,
    params=CONTACT_ID,
    errors=(401, 403, 404),
)
@routes.get("/api/v1/contacts/{id}/restriction")
async def get_restriction(request: web.Request) -> web.Response:
    """Admins only."""
    principal = await authenticate(request)
    ensure_privacy_officer(principal)
    contact_id = path_id(request)
    async with request.app[SERVICES].sessions() as session:
        contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("no such contact")
    return json_response(_restriction(contact))


@operation(
    "PUT",
    "/api/v1/contacts/{id}/restriction",
    summary="Restrict processing of the contact (Art. 18): no outbound messages, no automation",
    tag="privacy",
    request=RestrictionBody,
    response=RestrictionView,
    params=CONTACT_ID,
    errors=(400, 401, 403, 404, 409, 413, 422),
)
@routes.put("/api/v1/contacts/{id}/restriction")
async def put_restriction(request: web.Request) -> web.Response:
    """Admins only; restricting again updates the reason."""
    principal = await authenticate(request)
    ensure_privacy_officer(principal)
    contact_id = path_id(request)
    body = await read_json(request, RestrictionBody)
    contact = await restrict_processing(request.app[SERVICES], principal, contact_id, body.reason)
    return json_response(_restriction(contact))


@operation(
    "DELETE",
    "/api/v1/contacts/{id}/restriction",
    summary="Lift the restriction of processing",
    tag="privacy",
    response=RestrictionView,
    params=CONTACT_ID,
    errors=(401, 403, 404, 409),
)
@routes.delete("/api/v1/contacts/{id}/restriction")
async def delete_restriction(request: web.Request) -> web.Response:
    """Admins only; lifting when there is none changes nothing."""
    principal = await authenticate(request)
    ensure_privacy_officer(principal)
    contact_id = path_id(request)
    contact = await lift_restriction(request.app[SERVICES], principal, contact_id)
    return json_response(_restriction(contact))


def _view(record: ConsentRecord, actor: str | None) -> ConsentView:
    return ConsentView(
        id=record.id,
        purpose=record.purpose,
        channel=record.channel,
        granted=record.granted,
        source=record.source,
        text_version=record.text_version,
        evidence=dict(record.evidence or {}),
        actor=UserRef(record.actor_user_id, actor or "") if record.actor_user_id is not None else None,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
    )


def _restriction(contact: Contact) -> RestrictionView:
    return RestrictionView(
        contact_id=contact.id,
        restricted=contact.restricted_at is not None,
        restricted_at=contact.restricted_at,
        reason=contact.restriction_reason,
    )
