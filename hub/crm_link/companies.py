"""Companies (accounts): an organisation with its contacts. Supervisors and admins maintain them."""

from __future__ import annotations

import re

import msgspec
from sqlalchemy import select

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.db.models import Company, utcnow
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.services import Services

DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
COMPANY_CHANGED = "company.changed"  # audit action


def _check(principal: Principal) -> None:
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins maintain companies")


def normalize_domain(domain: str | None) -> str | None:
    """A lower-case domain without scheme or path, or None; 422 when it is not one."""
    if domain is None or not domain.strip():
        return None
    value = domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not DOMAIN.match(value):
        raise ValidationFailed(f"not a domain: {domain[:60]!r}")
    return value


def _name(name: str) -> str:
    value = name.strip()
    if not value:
        raise ValidationFailed("a company needs a name")
    return value


async def create_company(services: Services, principal: Principal, name: str, domain: str | None) -> Company:
    """A new company."""
    _check(principal)
    async with services.transaction() as unit:
        company = Company(name=_name(name), domain=normalize_domain(domain), created_at=utcnow())
        unit.session.add(company)
        await unit.session.flush()
        await record_audit(
            unit.session, actor_id=principal.user_id, action=COMPANY_CHANGED, object_type="company",
            object_id=company.id, data={"created": True},
        )
    return company


async def update_company(
    services: Services,
    principal: Principal,
    company_id: int,
    *,
    name: str | msgspec.UnsetType = msgspec.UNSET,
    domain: str | None | msgspec.UnsetType = msgspec.UNSET,
) -> Company:
    """Rename a company or change its domain."""
    _check(principal)
    async with services.transaction() as unit:
        company = await unit.session.scalar(select(Company).where(Company.id == company_id).with_for_update())
        if company is None:
            raise NotFound("no such company")
        fields: list[str] = []
        if not isinstance(name, msgspec.UnsetType) and _name(name) != company.name:
            company.name = _name(name)
            fields.append("name")
        if not isinstance(domain, msgspec.UnsetType) and normalize_domain(domain) != company.domain:
            company.domain = normalize_domain(domain)
            fields.append("domain")
        if fields:
            await record_audit(
                unit.session, actor_id=principal.user_id, action=COMPANY_CHANGED, object_type="company",
                object_id=company.id, data={"fields": fields},
            )
    return company
