"""What staff add to a contact: tags (labels shared with conversations) and notes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.crm_link.contacts import load_for_change, record_update
from hub.crm_link.timeline import append_timeline
from hub.db.models import ContactNote, ContactTag, Tag, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.services import Services
from hub.validation import ensure_storable

TAG_PATTERN = re.compile(r"^[^\x00-\x1f\x7f,]{1,100}$")
MAX_TAGS = 50
MAX_NOTE_LENGTH = 20_000


def normalize_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, lower-cased, unique tags in their order; 422 for an unusable one."""
    found: list[str] = []
    for raw in tags:
        tag = raw.strip().lower()
        if not TAG_PATTERN.match(tag):
            raise ValidationFailed(f"bad tag {raw[:40]!r}: 1 to 100 characters, no commas or control characters")
        if tag not in found:
            found.append(tag)
    if len(found) > MAX_TAGS:
        raise ValidationFailed(f"a contact has at most {MAX_TAGS} tags")
    return found


async def tags_of(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, list[str]]:
    """Contact id -> its tags, sorted."""
    rows = await session.execute(
        select(ContactTag.contact_id, Tag.name)
        .join(Tag, Tag.id == ContactTag.tag_id)
        .where(ContactTag.contact_id.in_(list(contact_ids)))
        .order_by(Tag.name)
    )
    found: dict[int, list[str]] = {}
    for contact_id, name in rows:
        found.setdefault(contact_id, []).append(name)
    return found


async def set_tags(services: Services, actor: Principal, contact_id: int, tags: Sequence[str]) -> list[str]:
    """Make the contact's tags exactly ``tags``; each added or removed tag is on the timeline."""
    wanted = normalize_tags(tags)
    async with services.transaction() as unit:
        session = unit.session
        contact = await load_for_change(session, actor, contact_id)
        current = set((await tags_of(session, [contact.id])).get(contact.id, []))
        added = [t for t in wanted if t not in current]
        removed = sorted(current - set(wanted))
        if added:
            await insert_ignore(session, Tag, [{"name": t} for t in added])
            by_name = dict((await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(added)))).all())
            await insert_ignore(
                session, ContactTag, [{"contact_id": contact.id, "tag_id": by_name[t]} for t in added]
            )
        if removed:
            gone = list((await session.scalars(select(Tag.id).where(Tag.name.in_(removed)))).all())
            await session.execute(
                delete(ContactTag).where(ContactTag.contact_id == contact.id, ContactTag.tag_id.in_(gone))
                .execution_options(synchronize_session=False)
            )
        for kind, names in (("tagged", added), ("untagged", removed)):
            for tag in names:
                await append_timeline(session, contact.id, kind, actor_user_id=actor.user_id, data={"tag": tag})
        await record_update(unit, contact, ["tags"] if added or removed else [], actor)
    return sorted(wanted)


async def add_note(services: Services, actor: Principal, contact_id: int, body: str) -> ContactNote:
    """A note on the contact (visible to everyone who sees the contact)."""
    text = body.strip()
    if not text:
        raise ValidationFailed("the note is empty")
    if len(text) > MAX_NOTE_LENGTH:
        raise ValidationFailed(f"a note is at most {MAX_NOTE_LENGTH} characters")
    ensure_storable(body=text)
    async with services.transaction() as unit:
        contact = await load_for_change(unit.session, actor, contact_id)
        note = ContactNote(contact_id=contact.id, author_user_id=actor.user_id, body=text, created_at=utcnow())
        unit.session.add(note)
        await unit.session.flush()
        await append_timeline(
            unit.session, contact.id, "contact_note", actor_user_id=actor.user_id, data={"note_id": note.id}
        )
    return note


async def delete_note(services: Services, actor: Principal, contact_id: int, note_id: int) -> None:
    """Delete a note: its author, supervisors and admins may."""
    async with services.transaction() as unit:
        contact = await load_for_change(unit.session, actor, contact_id)
        note = await unit.session.get(ContactNote, note_id)
        if note is None or note.contact_id != contact.id:
            raise NotFound("no such note on this contact")
        if note.author_user_id != actor.user_id and not actor.sees_everything:
            raise Forbidden("only the author, supervisors and admins delete a note")
        await unit.session.delete(note)
