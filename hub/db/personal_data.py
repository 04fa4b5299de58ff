"""Where personal data lives: every text-like column is declared personal or not.

Export (DSGVO/GDPR Art. 15/20), erasure (Art. 17) and retention read this registry
instead of guessing; ``tests/test_personal_data.py`` fails when a String, Text or
JSON column is in neither list, so a new column must be classified when it is added.

``subject`` says whose data it is: ``contact`` (a customer) or ``user`` (staff).
``path`` says how a row reaches its contact (or user), for the queries that collect
or erase one person's data: ``table.column`` hops joined by `` -> ``, each column
holding the primary key of the next hop's table, the last one the contact's id
(``messages.conversation_id -> conversations.contact_id``); alternatives are joined
by `` | `` (a merge record belongs to both contacts).

The customer record is every table that reaches a contact: the tables of the
personal columns above plus ``RECORD_TABLES`` (which also says what erasure does with
a table's rows). Export (``hub.crm_link.export``) and erasure
(``hub.crm_link.erasure``) are driven by this module alone, so a new table is
exported and erased once it is declared here; ``tests/crm_link/test_registry.py``
fails when a table that references contacts (directly or through other tables) is
not. See docs/privacy.md, "Adding a table".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Subject = Literal["contact", "user"]


@dataclass(frozen=True, slots=True)
class PersonalColumn:
    """A column that holds personal data."""

    table: str
    column: str
    subject: Subject
    what: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.table}.{self.column}"


# A call reaches its contact directly (a refused call has no conversation) and through its
# conversation (so retention, which deletes conversations, finds the call's recordings).
CALL_PATH = "calls.contact_id | calls.conversation_id -> conversations.contact_id"

PERSONAL: tuple[PersonalColumn, ...] = (
    # The customer record.
    PersonalColumn("contacts", "name", "contact", "the contact's name", "contacts.id"),
    PersonalColumn("contacts", "attributes", "contact", "custom attributes (any values)", "contacts.id"),
    PersonalColumn(
        "contacts", "restriction_reason", "contact", "why processing is restricted (may quote the person)",
        "contacts.id",
    ),
    PersonalColumn(
        "consents", "evidence", "contact", "proof of a consent statement (keyword message, form data, IP address)",
        "consents.contact_id",
    ),
    PersonalColumn("contact_notes", "body", "contact", "a note staff wrote about the contact", "contact_notes.contact_id"),
    PersonalColumn(
        "contact_merges", "survivor_before", "contact",
        "the surviving contact's fields before a merge filled them (name, attributes)",
        "contact_merges.survivor_id | contact_merges.merged_id",
    ),
    PersonalColumn(
        "webhook_attempts", "error", "contact", "the receiving system's answer, which may quote the contact",
        "webhook_attempts.delivery_id -> webhook_deliveries.contact_id",
    ),
    PersonalColumn(
        "contact_identities", "address", "contact", "email address, phone number or platform user id",
        "contact_identities.contact_id",
    ),
    # What customers wrote and what was written to them.
    PersonalColumn(
        "conversations", "subject", "contact", "subject line the customer gave", "conversations.contact_id"
    ),
    PersonalColumn(
        "messages", "text", "contact", "message body (plain text)",
        "messages.conversation_id -> conversations.contact_id",
    ),
    PersonalColumn(
        "messages", "html", "contact", "message body (sanitized HTML)",
        "messages.conversation_id -> conversations.contact_id",
    ),
    PersonalColumn(
        "messages", "subject", "contact", "message subject", "messages.conversation_id -> conversations.contact_id"
    ),
    PersonalColumn(
        "messages", "error", "contact", "provider's delivery error, which may quote the recipient's address",
        "messages.conversation_id -> conversations.contact_id",
    ),
    PersonalColumn(
        "messages", "send_options", "contact", "template name and parameters (which may name the customer)",
        "messages.conversation_id -> conversations.contact_id",
    ),
    PersonalColumn(
        "attachments", "filename", "contact", "attachment file name",
        "attachments.message_id -> messages.conversation_id -> conversations.contact_id",
    ),
    PersonalColumn(
        "outbox", "last_error", "contact", "provider's send error, which may quote the recipient's address",
        "outbox.message_id -> messages.conversation_id -> conversations.contact_id",
    ),
    # Mail an adapter could not import, kept raw for admins (its contact when the sender is known).
    PersonalColumn("quarantine", "sender", "contact", "sender address read from the raw item", "quarantine.contact_id"),
    PersonalColumn("quarantine", "subject", "contact", "subject read from the raw item", "quarantine.contact_id"),
    PersonalColumn(
        "quarantine", "detail", "contact", "why importing failed, which may quote an address", "quarantine.contact_id"
    ),
    PersonalColumn(
        "idempotency_keys", "response", "user", "stored API answer, which may echo a message body",
        "idempotency_keys.user_id",
    ),
    # Web chat visitors (the widget's sessions) and satisfaction ratings.
    PersonalColumn(
        "webchat_visitors", "key", "contact",
        "random visitor id inside the visitor's token; names the browser's chat session",
        "webchat_visitors.contact_id",
    ),
    PersonalColumn(
        "webchat_visitors", "user_id", "contact", "the website's user id (HMAC-verified)",
        "webchat_visitors.contact_id",
    ),
    PersonalColumn(
        "webchat_visitors", "email", "contact", "email address for the offline follow-up",
        "webchat_visitors.contact_id",
    ),
    PersonalColumn("webchat_visitors", "name", "contact", "name from the pre-chat form", "webchat_visitors.contact_id"),
    PersonalColumn(
        "webchat_visitors", "prechat", "contact", "answers to the pre-chat form", "webchat_visitors.contact_id"
    ),
    PersonalColumn(
        "conversation_ratings", "comment", "contact", "the customer's comment on the rating",
        "conversation_ratings.conversation_id -> conversations.contact_id",
    ),
    # Phone calls (docs/calls.md).
    PersonalColumn("calls", "from_number", "contact", "the calling number", CALL_PATH),
    PersonalColumn("calls", "to_number", "contact", "the called number", CALL_PATH),
    # Staff accounts.
    PersonalColumn("users", "email", "user", "the user's login email", "users.id"),
    PersonalColumn("users", "name", "user", "the user's name", "users.id"),
    PersonalColumn("users", "password_hash", "user", "argon2 hash of the user's password", "users.id"),
    PersonalColumn(
        "ui_saved_views", "params", "user", "a user's saved inbox filters; the search text may name anyone",
        "ui_saved_views.user_id",
    ),
    PersonalColumn("agent_phones", "phone", "user", "the phone number an agent takes calls on", "agent_phones.user_id"),
    PersonalColumn("agent_phones", "sip", "user", "the SIP address an agent takes calls on", "agent_phones.user_id"),
    # Routing: an agent's presence is a record of their working time.
    PersonalColumn("routing_agents", "presence", "user", "the agent's presence (available, away, offline)",
                   "routing_agents.user_id"),
    PersonalColumn("routing_agents", "presence_reason", "user", "why the presence last changed",
                   "routing_agents.user_id"),
)

# What erasure does with a record table's rows once its personal columns are found:
#   scrub:  blank the personal columns (NULL, or "" / {} when the column is NOT NULL) and
#           keep the row, so counts, durations and SLA figures stay right;
#   delete: remove the row (identities, so the address is free again; rows that are
#           nothing but personal data);
#   keep:   leave the row as it is (it holds no personal data: ids and states).
EraseRule = Literal["scrub", "delete", "keep"]

# What a merge of contact B into contact A does with B's rows of a table that reaches
# the contact in one hop (``table.contact_id``); deeper tables follow their parents:
#   move: the rows change to A (their ids are recorded, so unmerge moves them back);
#   copy: A gets a copy of each row it lacks (tables keyed by the contact id, e.g. tags);
#   stay: the rows stay with B (records about the contacts themselves, e.g. merges).
MergeRule = Literal["move", "copy", "stay"]


@dataclass(frozen=True, slots=True)
class RecordTable:
    """A table whose rows belong to one contact's record."""

    table: str
    path: str
    erase: EraseRule
    what: str
    export: bool = True
    merge: MergeRule = "move"


# Tables of the record and their erase rule. A table with personal columns that is
# not listed here is scrubbed, reached by its columns' path.
RECORD_TABLES: tuple[RecordTable, ...] = (
    RecordTable("contacts", "contacts.id", "scrub", "the contact (the row stays: marked erased)"),
    RecordTable("contact_identities", "contact_identities.contact_id", "delete", "emails, phones, platform ids"),
    RecordTable("conversations", "conversations.contact_id", "scrub", "conversations (kept for statistics)"),
    RecordTable(
        "messages", "messages.conversation_id -> conversations.contact_id", "scrub",
        "messages (kept without content for statistics)",
    ),
    RecordTable(
        "attachments", "attachments.message_id -> messages.conversation_id -> conversations.contact_id", "delete",
        "attachments and, through BLOB_REFERENCES, their content",
    ),
    RecordTable(
        "outbox", "outbox.message_id -> messages.conversation_id -> conversations.contact_id", "scrub",
        "sending state of replies",
    ),
    RecordTable(
        "thread_keys", "thread_keys.conversation_id -> conversations.contact_id", "keep",
        "provider thread ids of the conversations",
    ),
    RecordTable(
        "call_rings", "call_rings.conversation_id -> conversations.contact_id", "keep",
        "which routing offers of the calls rang an agent's phone (ids and times)",
    ),
    RecordTable(
        "conversation_tags", "conversation_tags.conversation_id -> conversations.contact_id", "keep",
        "tags on the conversations",
    ),
    RecordTable("timeline_entries", "timeline_entries.contact_id", "keep", "the interaction log (ids and states)"),
    RecordTable("consents", "consents.contact_id", "scrub", "the consent ledger (kept without evidence)"),
    RecordTable(
        "webchat_visitors", "webchat_visitors.contact_id", "delete",
        "web chat sessions (their visitor tokens stop working)",
    ),
    RecordTable(
        "quarantine", "quarantine.contact_id", "delete",
        "raw mail that could not be imported and, through BLOB_REFERENCES, its content",
    ),
    RecordTable(
        "conversation_ratings", "conversation_ratings.conversation_id -> conversations.contact_id", "scrub",
        "satisfaction ratings (the score stays for statistics, the comment goes)",
    ),
    RecordTable(
        "routing_entries", "routing_entries.conversation_id -> conversations.contact_id", "keep",
        "how routing holds the conversations (queue, state, times)",
    ),
    RecordTable(
        "routing_offers", "routing_offers.conversation_id -> conversations.contact_id", "keep",
        "offers of the conversations to agents (ids, states, times)",
    ),
    RecordTable(
        "routing_sla", "routing_sla.conversation_id -> conversations.contact_id", "keep",
        "SLA clocks of the conversations (states, times)",
    ),
    RecordTable("calls", CALL_PATH, "scrub", "phone calls (kept without numbers for statistics)"),
    RecordTable(
        "call_recordings",
        "call_recordings.call_id -> calls.contact_id | call_recordings.call_id -> calls.conversation_id"
        " -> conversations.contact_id",
        "delete",
        "recordings of calls and, through BLOB_REFERENCES, their audio",
    ),
    RecordTable("contact_notes", "contact_notes.contact_id", "delete", "notes staff wrote about the contact"),
    RecordTable("contact_tags", "contact_tags.contact_id", "delete", "tags staff gave the contact", merge="copy"),
    RecordTable(
        "contact_merges", "contact_merges.survivor_id | contact_merges.merged_id", "delete",
        "merges with other records (so they can be undone)", merge="stay",
    ),
    RecordTable(
        "webhook_deliveries", "webhook_deliveries.contact_id", "keep",
        "events about the contact sent to outside systems (Art. 15(1)(c): recipients)", merge="stay",
    ),
    RecordTable(
        "webhook_attempts", "webhook_attempts.delivery_id -> webhook_deliveries.contact_id", "scrub",
        "tries of those deliveries",
    ),
    RecordTable(
        "duplicate_dismissals", "duplicate_dismissals.low_id | duplicate_dismissals.high_id", "delete",
        "pairs of records staff decided are different people", merge="stay",
    ),
)

# Attachment content sits in the blob store, addressed by these columns; a blob is
# personal data and is deleted when no attachment refers to it any more.
BLOB_REFERENCES: tuple[str, ...] = (
    "attachments.blob_sha256", "quarantine.blob_sha256", "call_recordings.blob_sha256",
)

# Columns that may repeat a contact's data without a path to the contact (an API
# answer stored for Idempotency-Key echoes a reply's text). Erasure deletes the rows
# whose column contains any of the contact's personal strings.
SWEPT: dict[str, str] = {
    "idempotency_keys.response": "a stored API answer may echo a message to the contact",
    "quarantine.sender": "a quarantined mail from an address no contact held when it arrived",
}

# Redis keys that hold a contact's data, as glob patterns with ``{contact_id}``;
# erasure deletes every key matching them (SCAN, then DEL).
REDIS_KEYS: tuple[str, ...] = ()

NOT_PERSONAL: dict[str, str] = {
    "call_languages.provider_call_id": "the telephony provider's opaque call id",
    "call_languages.language": "language tag of the voice menu chosen (de-DE, en-US)",
    "channels.name": "configured channel name",
    "channels.type": "adapter type",
    "conversations.status": "state",
    "thread_keys.key": "provider thread id (Message-ID, thread_ts), no content",
    "messages.direction": "in or out",
    "messages.provider_message_id": "provider's opaque message id",
    "messages.edit_of": "provider id of the message an edit replaces",
    "messages.status": "delivery state",
    "messages.auto_submitted": "kind of machine-written mail (auto_reply, bulk, bounce, report) or an SMS keyword (keyword)",
    "channel_state.key": "adapter state key (e.g. an IMAP folder name)",
    "channel_state.data": "positions, counters and server error texts, never message content",
    "quarantine.reason": "short failure code",
    "quarantine.source": "where the item came from (folder, UIDVALIDITY, UID)",
    "quarantine.state": "open, imported or discarded",
    "quarantine.blob_sha256": "content hash; see BLOB_REFERENCES",
    "blobs.sha256": "content hash; the content is reached through BLOB_REFERENCES",
    "attachments.blob_sha256": "content hash; see BLOB_REFERENCES",
    "attachments.content_type": "MIME type",
    "attachments.content_id": "MIME Content-ID for inline parts",
    "calls.provider_call_id": "the telephony source's opaque call id",
    "calls.direction": "in or out",
    "calls.state": "live call state",
    "calls.outcome": "how the call ended (answered, abandoned, ...)",
    "calls.end_reason": "why the hub ended the call itself (stale)",
    "call_recordings.blob_sha256": "content hash; see BLOB_REFERENCES",
    "call_recordings.content_type": "MIME type of the audio",
    "tags.name": "tag label set by staff",
    "companies.name": "a legal person's name (an organisation, not a data subject)",
    "companies.domain": "an organisation's domain",
    "contact_identities.kind": "email, phone or platform",
    "contacts.lifecycle_stage": "lead, prospect, customer or former customer",
    "attribute_definitions.key": "name of a custom attribute, chosen by admins",
    "attribute_definitions.label": "label of a custom attribute",
    "attribute_definitions.type": "text, number, date or choice",
    "attribute_definitions.choices": "the values a choice attribute allows",
    "contact_merges.moved": "ids of the rows a merge moved",
    "segments.name": "segment name chosen by staff",
    "ui_saved_views.name": "inbox view name chosen by a staff user",
    "segments.description": "what the segment is for, written by staff",
    "segments.definition": "a filter staff define (criteria over contacts, not a person's record)",
    "connector_cursors.name": "connector name from the configuration",
    "connector_cursors.last_error": "the type of the last exception (never its text)",
    "webhook_subscriptions.name": "webhook name chosen by admins",
    "webhook_subscriptions.url": "the receiving system's URL",
    "webhook_subscriptions.secret": "the signing secret (a credential, never shown again)",
    "webhook_subscriptions.event_types": "event types subscribed to",
    "webhook_deliveries.event_type": "event type",
    "webhook_deliveries.payload": "the event as JSON: ids and states only",
    "webhook_deliveries.state": "delivery state",
    "consents.purpose": "service, marketing or all (hub.crm_link.consent vocabulary)",
    "consents.channel": "consent channel (hub.crm_link.consent vocabulary)",
    "consents.source": "how the statement was captured (sms_keyword, web_form, agent, ...)",
    "consents.text_version": "id of the consent text shown, chosen by staff",
    "timeline_entries.kind": "interaction type",
    "timeline_entries.data": "ids and states only, never content",
    "events.type": "event type",
    "events.data": "ids and states only, never content",
    "outbox.state": "work-queue state",
    "idempotency_keys.key": "client-chosen request key",
    "idempotency_keys.fingerprint": "hash of the request",
    "users.role": "admin, supervisor or agent",
    "users.locale": "UI language",
    "api_tokens.token_hash": "SHA-256 of a random token",
    "api_tokens.name": "token label",
    "web_sessions.id_hash": "SHA-256 of a random session id",
    "web_sessions.csrf_token": "random value",
    "queues.name": "queue name",
    "webchat_visitors.locale": "widget language (de or en)",
    "user_skills.skill": "skill name",
    "audit_log.action": "what was done",
    "canned_responses.shortcut": "short name of a reply template, chosen by admins",
    "canned_responses.title": "title of a reply template, written by admins",
    "canned_responses.format": "text or html",
    "canned_responses.bodies": "reply template source per language, written by admins (no customer data)",
    "audit_log.object_type": "kind of object",
    "audit_log.object_id": "id of the object",
    "audit_log.data": "ids and names of configuration, never customer data",
    "routing_agents.capacity": "conversations per medium an agent may hold (configuration)",
    "routing_entries.state": "routing state",
    "routing_entries.media": "medium of the conversation's channel",
    "routing_entries.channel": "configured channel name",
    "routing_leases.name": "lease name",
    "routing_leases.holder": "host name and process id of a hub process",
    "routing_offers.state": "offer state",
    "routing_outcomes.kind": "outcome type",
    "routing_outcomes.media": "medium",
    "routing_queue_stats.data": "counts and durations per queue, no ids of people",
    "routing_sla.policy": "configured SLA policy name",
    "routing_sla.state": "SLA state",
    "routing_sla.target": "SLA target name",
}


def personal_columns(subject: Subject | None = None) -> tuple[PersonalColumn, ...]:
    """The declared personal columns, optionally only those of one kind of data subject."""
    return tuple(c for c in PERSONAL if subject is None or c.subject == subject)


def personal_keys() -> frozenset[str]:
    """``table.column`` of every personal column."""
    return frozenset(c.key for c in PERSONAL)


def record_tables() -> dict[str, RecordTable]:
    """Every table of the customer record by name: ``RECORD_TABLES`` plus the tables of
    contact-subject personal columns not listed there (scrubbed along their path)."""
    tables = {t.table: t for t in RECORD_TABLES}
    for column in personal_columns("contact"):
        if column.table not in tables:
            tables[column.table] = RecordTable(column.table, column.path, "scrub", column.what)
    return tables
