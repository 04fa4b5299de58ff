"""Where an agent takes calls: a phone number (E.164) and/or a SIP address.

Voice channels ring this when routing offers a call to the agent (the SIP address
first, when both are set). Agents set their own; supervisors and admins anyone's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.auth.audit import record_audit
from hub.auth.principal import Principal, Role
from hub.crm_link import identities
from hub.db.models import AgentPhone, User, utcnow
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.services import Services

# sip:user@host[:port][;params], as dialled by telephony providers; no spaces or angle brackets.
_SIP = re.compile(r"^sips?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[A-Za-z0-9=._-]+)*$")
MAX_SIP = 255
PHONE_SET = "agent.phone_set"


@dataclass(frozen=True, slots=True)
class AgentLine:
    agent_id: int
    phone: str | None
    sip: str | None
    updated_at: datetime | None


def normalize_sip(value: str) -> str:
    """A SIP address checked for the shape providers dial; 422 otherwise."""
    address = value.strip()
    if len(address) > MAX_SIP or not _SIP.match(address):
        raise ValidationFailed("sip must look like sip:agent@pbx.example.com")
    return address


def _check_actor(actor: Principal, agent_id: int) -> None:
    if actor.user_id != agent_id and actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("only supervisors and admins set another agent's phone")


async def get_line(services: Services, actor: Principal, agent_id: int) -> AgentLine:
    """The agent's phone and SIP address (empty when none is set)."""
    _check_actor(actor, agent_id)
    async with services.sessions() as session:
        if await session.get(User, agent_id) is None:
            raise NotFound("no such agent")
        row = await session.get(AgentPhone, agent_id)
    if row is None:
        return AgentLine(agent_id, None, None, None)
    return AgentLine(agent_id, row.phone, row.sip, row.updated_at)


async def set_line(
    services: Services, actor: Principal, agent_id: int, *, phone: str | None, sip: str | None,
    now: datetime | None = None,
) -> AgentLine:
    """Set (or with both None, clear) where the agent takes calls."""
    _check_actor(actor, agent_id)
    now = now or utcnow()
    number = identities.phone(phone).address if phone else None
    address = normalize_sip(sip) if sip else None
    async with services.transaction() as unit:
        session = unit.session
        user = await session.get(User, agent_id)
        if user is None or not user.active:
            raise NotFound("no such agent")
        row = (await session.execute(
            select(AgentPhone).where(AgentPhone.user_id == agent_id).with_for_update()
        )).scalar_one_or_none()
        if number is None and address is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(AgentPhone(user_id=agent_id, phone=number, sip=address, updated_at=now))
        else:
            row.phone, row.sip, row.updated_at = number, address, now
        await record_audit(session, actor_id=actor.user_id, action=PHONE_SET, object_type="user", object_id=agent_id,
                           data={"phone": number is not None, "sip": address is not None})
    return AgentLine(agent_id, number, address, now if (number or address) else None)
