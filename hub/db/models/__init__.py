"""ORM rows, grouped by aggregate. Import from here."""

from hub.db.models.base import Base, UTCDateTime, utcnow
from hub.db.models.calls import Call, CallRecording
from hub.db.models.canned import CannedResponse
from hub.db.models.connectors import (
    ConnectorCursor,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from hub.db.models.conversations import (
    Blob,
    Channel,
    Conversation,
    ConversationTag,
    Message,
    MessageAttachment,
    Tag,
    ThreadKey,
)
from hub.db.models.crm import (
    AttributeDefinition,
    ContactMerge,
    ContactNote,
    ContactTag,
    DuplicateDismissal,
    Segment,
)
from hub.db.models.intake import ChannelState, QuarantinedItem
from hub.db.models.people import Company, Contact, ContactIdentity
from hub.db.models.privacy import ConsentRecord
from hub.db.models.records import EventRecord, IdempotencyKey, OutboxItem, TimelineEntry
from hub.db.models.routing import (
    QueueStatsSnapshot,
    RoutingAgent,
    RoutingEntry,
    RoutingLease,
    RoutingOffer,
    RoutingOutcome,
    SlaClock,
)
from hub.db.models.staff import (
    ApiToken,
    AuditEntry,
    Queue,
    QueueMember,
    User,
    UserSkill,
    WebSession,
)
from hub.db.models.telephony import AgentPhone, CallLanguage, CallRing
from hub.db.models.ui import SavedView
from hub.db.models.webchat import ConversationRating, WebchatVisitor

__all__ = [
    "AgentPhone",
    "ApiToken",
    "AttributeDefinition",
    "AuditEntry",
    "Base",
    "Blob",
    "Call",
    "CallLanguage",
    "CallRecording",
    "CallRing",
    "CannedResponse",
    "Channel",
    "ChannelState",
    "Company",
    "ConsentRecord",
    "Contact",
    "ConnectorCursor",
    "ContactIdentity",
    "ContactMerge",
    "ContactNote",
    "ContactTag",
    "Conversation",
    "ConversationRating",
    "ConversationTag",
    "DuplicateDismissal",
    "EventRecord",
    "IdempotencyKey",
    "Message",
    "MessageAttachment",
    "OutboxItem",
    "QuarantinedItem",
    "Queue",
    "QueueMember",
    "QueueStatsSnapshot",
    "SavedView",
    "RoutingAgent",
    "RoutingEntry",
    "RoutingLease",
    "RoutingOffer",
    "RoutingOutcome",
    "SlaClock",
    "Segment",
    "Tag",
    "ThreadKey",
    "TimelineEntry",
    "UTCDateTime",
    "User",
    "UserSkill",
    "WebSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WebchatVisitor",
    "utcnow",
]
