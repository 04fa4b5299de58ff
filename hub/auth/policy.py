"""Who may see and change which conversation: the one place that decides it.

Agents see the conversations of their queues and the ones assigned to them;
supervisors and admins see all. Every API handler that takes a conversation or
contact id goes through here, so an id from another queue reads as 404 (no IDOR).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import aliased

from hub.auth.principal import Principal
from hub.db.models import Call, Contact, Conversation
from hub.errors import NotFound


def conversation_scope(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause limiting ``Conversation`` rows to those ``principal`` may see."""
    if principal.sees_everything:
        return true()
    return or_(
        Conversation.queue_id.in_(sorted(principal.queue_ids)),
        Conversation.assignee_id == principal.user_id,
    )


def can_see_conversation(principal: Principal, queue_id: int | None, assignee_id: int | None) -> bool:
    if principal.sees_everything:
        return True
    return assignee_id == principal.user_id or (queue_id is not None and queue_id in principal.queue_ids)


def ensure_conversation_visible(principal: Principal, conversation: Conversation | None) -> Conversation:
    """The conversation, or 404 when it does not exist or is not the principal's to see."""
    if conversation is None or not can_see_conversation(principal, conversation.queue_id, conversation.assignee_id):
        raise NotFound("no such conversation")
    return conversation


def contact_scope(principal: Principal, contact_id_column: ColumnElement[int]) -> ColumnElement[bool]:
    """Agents see a contact when they can see one of its conversations, or when they own it."""
    if principal.sees_everything:
        return true()
    owned = aliased(Contact)  # never correlated with a Contact of the outer query
    return or_(
        exists(
            select(Conversation.id).where(Conversation.contact_id == contact_id_column, conversation_scope(principal))
        ),
        exists(select(owned.id).where(owned.id == contact_id_column, owned.owner_id == principal.user_id)),
    )


def call_scope(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause limiting ``Call`` rows: those of visible conversations, of the agent's
    queues, or rung at or taken by the agent; staff without queues see none but their own."""
    if principal.sees_everything:
        return true()
    visible = select(Conversation.id).where(conversation_scope(principal))
    return or_(
        Call.conversation_id.in_(visible),
        Call.queue_id.in_(sorted(principal.queue_ids)),
        Call.agent_id == principal.user_id,
    )
