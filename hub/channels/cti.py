"""The CTI channel: any PBX (Asterisk, 3CX, sipgate, ...) reports its calls over HTTP.

``POST /api/v1/calls/events`` with the channel's bearer token and a JSON body naming
the event (``newCall``, ``answer``, ``hangup``), the PBX's call id, the numbers, the
agent and the time. This module verifies the token, checks the body and turns it into
a normalized ``hub.calls.CallEvent``; ``hub.api.cti`` stores it through the inbox and
answers the PBX (docs/channels/cti.md). Numbers on the blocklist are refused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from hub.calls import CallDirection, CallEvent, CallOutcome, CallSink, CallState
from hub.channels.base import Capabilities, ChannelAdapter, InboundRequest
from hub.channels.calls import NoDesk
from hub.crm_link import identities
from hub.errors import BadRequest, ConfigError, Unauthorized, ValidationFailed
from hub.messages import Identity
from hub.validation import ensure_storable

EventName = Literal["newCall", "answer", "hangup"]
Routing = Literal["pbx", "hub"]
HANGUP_OUTCOMES = ("answered", "abandoned", "missed", "voicemail", "failed", "busy", "rejected")
# What PBXs send for a withheld caller id; such a call gets a contact of its own.
WITHHELD = frozenset({"", "anonymous", "unknown", "private", "restricted", "withheld", "unavailable"})
_PREFIX = re.compile(r"^\+[1-9]\d{0,14}$")
_CALL_ID = r"^[A-Za-z0-9._:@+-]{1,200}$"
MAX_ROUTE_WAIT = 30.0

Text = Annotated[str, msgspec.Meta(max_length=200)]
Number = Annotated[str, msgspec.Meta(max_length=80)]


class CtiBody(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    """What a PBX sends: one event of one call."""

    event: EventName
    call_id: Annotated[str, msgspec.Meta(pattern=_CALL_ID)]
    from_: Number | None = None
    to: Number | None = None
    direction: Literal["in", "out"] | None = None
    agent: Annotated[int, msgspec.Meta(ge=1)] | Text | None = None
    timestamp: Annotated[str, msgspec.Meta(max_length=64)] | float | None = None
    caller_name: Text | None = None
    queue: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    started_at: Annotated[str, msgspec.Meta(max_length=64)] | float | None = None
    answered_at: Annotated[str, msgspec.Meta(max_length=64)] | float | None = None
    outcome: Literal["answered", "abandoned", "missed", "voicemail", "failed", "busy", "rejected"] | None = None


_decoder = msgspec.json.Decoder(CtiBody)
_phone = functools.lru_cache(maxsize=4096)(identities.phone)


@dataclass(frozen=True)
class CtiReport:
    """A verified, checked PBX event: the call report to store, and whether the blocklist refused it."""

    name: EventName
    call: CallEvent
    rejected: bool


class CtiChannel(ChannelAdapter):
    type = "cti"
    capabilities = Capabilities(media="voice", realtime=True)

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self._token_digest = hashlib.sha256(str(config.require("token")).encode()).digest()
        options = config.options
        self.default_region: str | None = options.get("default_region")
        self.routing: Routing = _choice(config.name, "routing", options.get("routing", "pbx"), ("pbx", "hub"))
        wait = options.get("route_wait_seconds", 5)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or not 0 <= wait <= MAX_ROUTE_WAIT:
            raise ConfigError(f"channel {config.name!r}: route_wait_seconds must be 0 to {MAX_ROUTE_WAIT:g}")
        self.route_wait = float(wait)
        if self.routing == "hub" and config.queue is None:
            raise ConfigError(f"channel {config.name!r}: routing = \"hub\" needs the channel's queue")
        self.blocklist = _blocklist(config.name, options.get("blocklist", []))
        self.extensions = _extensions(config.name, options.get("extensions", {}))
        self._extension_of = {email: ext for ext, email in self.extensions.items()}

    @property
    def can_send(self) -> bool:
        return False  # a phone call takes no written reply; notes stay possible

    def verify(self, request: InboundRequest) -> None:
        """The bearer token, compared in constant time with the configured one."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send the CTI token as 'Authorization: Bearer <token>'")
        if not self.accepts(token):
            raise Unauthorized("wrong CTI token")

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is this channel's (constant time)."""
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._token_digest)

    def call_service(self) -> CallSink:
        """Where this channel's calls are reported (``AdapterContext.calls``, shared with the voice channels)."""
        if self.context.calls is None:
            raise NoDesk(f"channel {self.name!r} is not wired to the call desk")
        return self.context.calls

    def extension_of(self, email: str) -> str | None:
        """The PBX extension configured for an agent's login email."""
        return self._extension_of.get(email)

    def parse_event(self, body: bytes, *, now: datetime) -> CtiReport:
        """The body as a call report; 400 when it is not JSON, 422 when it breaks a rule."""
        try:
            raw = _decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise ValidationFailed(str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from exc
        ensure_storable(call_id=raw.call_id, caller_name=raw.caller_name, queue=raw.queue,
                        agent=raw.agent if isinstance(raw.agent, str) else None)
        direction = CallDirection(raw.direction or "in")
        inbound = direction is CallDirection.IN
        # The customer's number must be one; ours (a DID, an agent's extension) is kept as given.
        from_number, customer_from = self._number(raw.from_, "from") if inbound else (self._line(raw.from_), None)
        to_number, customer_to = (self._line(raw.to), None) if inbound else self._number(raw.to, "to")
        customer = customer_from if inbound else customer_to
        if customer is None and (raw.from_ if inbound else raw.to) is not None:
            # A withheld number: a contact of its own for this call, never someone else's record.
            customer = identities.platform(f"cti.{self.name}", f"withheld:{raw.call_id}")
        rejected = (
            raw.event == "newCall" and inbound and customer_from is not None
            and any(customer_from.address.startswith(p) for p in self.blocklist)
        )
        at = _time(raw.timestamp, "timestamp") or now
        if rejected:
            state, outcome = CallState.ENDED, CallOutcome.REJECTED
        elif raw.event == "newCall":
            state = CallState.QUEUED if self.routing == "hub" and inbound else CallState.RINGING
            outcome = None
        elif raw.event == "answer":
            state, outcome = CallState.TALKING, None
        else:
            state, outcome = CallState.ENDED, _outcome(raw.outcome)
        call = CallEvent(
            channel=self.name, provider_call_id=raw.call_id, state=state, direction=direction, customer=customer,
            customer_name=((raw.caller_name or "").strip() or None) if inbound else None,
            from_number=from_number, to_number=to_number, queue=raw.queue, agent=self._agent(raw.agent),
            occurred_at=at, started_at=_time(raw.started_at, "started_at"),
            answered_at=_time(raw.answered_at, "answered_at"), outcome=outcome,
        )
        return CtiReport(raw.event, call, rejected)

    def _number(self, value: str | None, field: str) -> tuple[str | None, Identity | None]:
        """(the number as stored, its phone identity); a withheld number is (None, None)."""
        if value is None or value.strip().lower() in WITHHELD:
            return None, None
        try:
            identity = _phone(value, self.default_region)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{field}: {exc.detail}") from None
        return identity.address, identity

    def _line(self, value: str | None) -> str | None:
        """Our side of the call: an extension as it is, a number in E.164, else the text as given."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value in self.extensions:
            return value
        try:
            return _phone(value, self.default_region).address
        except ValidationFailed:
            ensure_storable(number=value)
            return value[:64]

    def _agent(self, agent: int | str | None) -> int | str | None:
        """A user id, a login email, or a configured extension (as the agent's email)."""
        if agent is None or isinstance(agent, int):
            return agent
        value = agent.strip()
        if "@" in value:
            return value.lower()
        if value in self.extensions:
            return self.extensions[value]
        raise ValidationFailed(f"agent {value!r} is neither an email nor an extension of channel {self.name!r}")


def _outcome(value: str | None) -> CallOutcome | None:
    if value is None or value == "answered":
        return None  # the hub knows whether it was answered
    if value == "busy":
        return CallOutcome.MISSED
    return CallOutcome(value)


def _time(value: str | float | None, field: str) -> datetime | None:
    """ISO 8601 with an offset, or seconds since the epoch (Asterisk's ``${EPOCH}``)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValidationFailed(f"{field}: not a time") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field}: not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{field}: give a time-zone offset, e.g. 2030-01-31T09:00:00+01:00")
    return parsed.astimezone(UTC)


def _choice(channel: str, key: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        raise ConfigError(f"channel {channel!r}: {key} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _blocklist(channel: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"channel {channel!r}: blocklist must be a list of numbers or prefixes (\"+4919\")")
    for entry in value:
        if not _PREFIX.match(entry):
            raise ConfigError(f"channel {channel!r}: blocklist entry {entry!r} is not an E.164 number or prefix")
    return tuple(value)


def _extensions(channel: str, value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"channel {channel!r}: extensions must map extension to agent email (\"201\" = \"anna@...\")")
    return {k.strip(): v.strip().lower() for k, v in value.items()}
