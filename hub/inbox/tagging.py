"""Tags on conversations: set the exact list, with an event and timeline entries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from hub import events as ev
from hub.auth.principal import Principal
from hub.crm_link.annotations import normalize_tags
from hub.db.models import ConversationTag, Tag, utcnow
from hub.db.upsert import insert_ignore
from hub.inbox.actions import _timeline, conversation_event, load_conversation
from hub.services import Services


async def set_conversation_tags(
    services: Services, principal: Principal, conversation_id: int, tags: Sequence[str]
) -> list[str]:
    """Make the conversation's tags exactly ``tags`` (trimmed, lower-cased); returns them sorted.

    Anyone who may see the conversation may tag it; 404 otherwise. No change, no event.
    """
    wanted = normalize_tags(tags)
    now = utcnow()
    async with services.transaction() as unit:
        session = unit.session
        conversation = await load_conversation(session, principal, conversation_id)
        current = set(
            (
                await session.scalars(
                    select(Tag.name)
                    .join(ConversationTag, ConversationTag.tag_id == Tag.id)
                    .where(ConversationTag.conversation_id == conversation.id)
                )
            ).all()
        )
        added = [t for t in wanted if t not in current]
        removed = sorted(current - set(wanted))
        if added:
            await insert_ignore(session, Tag, [{"name": t} for t in added])
            by_name = dict((await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(added)))).all())
            await insert_ignore(
                session, ConversationTag, [{"conversation_id": conversation.id, "tag_id": by_name[t]} for t in added]
            )
        if removed:
            gone = list((await session.scalars(select(Tag.id).where(Tag.name.in_(removed)))).all())
            await session.execute(
                delete(ConversationTag)
                .where(ConversationTag.conversation_id == conversation.id, ConversationTag.tag_id.in_(gone))
                .execution_options(synchronize_session=False)
            )
        if added or removed:
            conversation.updated_at = now
            for kind, names in (("tagged", added), ("untagged", removed)):
                for tag in names:
                    session.add(_timeline(conversation, kind, principal, now, data={"tag": tag}))
            data = {"added": added, "removed": removed, "by_user_id": principal.user_id}
            unit.emit(conversation_event(ev.CONVERSATION_TAGS_CHANGED, conversation, data, now))
    return sorted(wanted)
