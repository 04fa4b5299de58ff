"""An email channel's options (``[[channels]] type = "email"``), checked at start-up.

Every key is documented in docs/channels/email.md. Passwords come from the
environment with ``imap_password_env`` / ``smtp_password_env``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import ConfigError, ValidationFailed

Security = Literal["tls", "starttls", "none"]
AfterImport = Literal["keep", "seen", "move"]

_SECURITY = ("tls", "starttls", "none")
_AFTER_IMPORT = ("keep", "seen", "move")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)
    folders: tuple[str, ...]
    after_import: AfterImport
    move_to: str | None
    idle: bool
    poll_seconds: float
    idle_renew_seconds: float
    gap_check_seconds: float
    timeout: float
    fetch_batch: int
    first_sync_days: int | None  # None: the whole folder
    tls_verify: bool
    ca_file: str | None

    def tls_context(self) -> ssl.SSLContext | None:
        return _tls_context(self.security, self.tls_verify, self.ca_file)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    timeout: float
    tls_verify: bool
    ca_file: str | None

    def tls_context(self) -> ssl.SSLContext | None:
        return _tls_context(self.security, self.tls_verify, self.ca_file)


@dataclass(frozen=True)
class EmailSettings:
    """The whole channel: the mailbox address, IMAP in (optional), SMTP out (optional)."""

    address: str
    display_name: str | None
    reply_to: str | None
    own_addresses: frozenset[str]  # mail from these is our own (loop detection)
    use_reply_to: bool
    max_message_bytes: int
    imap: ImapSettings | None
    smtp: SmtpSettings | None
    acknowledge: str | None = None  # language of the automatic acknowledgement (de, en), or None
    acknowledge_template: str | None = None
    acknowledge_min_interval: timedelta = timedelta(minutes=10)

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


def _tls_context(security: Security, verify: bool, ca_file: str | None) -> ssl.SSLContext | None:
    if security == "none":
        return None
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Options:
    """Typed access to a channel's options with errors that name the channel and key."""

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self.options = config.options

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"channel {self.config.name!r}: option {key!r} {problem}")

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.options.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, "must be a string")
        if "\r" in value or "\n" in value:
            raise self.error(key, "must not contain line breaks")
        return value.strip() or None

    def number(self, key: str, default: float, *, minimum: float = 0) -> float:
        value = self.options.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
            raise self.error(key, f"must be a number of at least {minimum}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.options.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.error(key, f"must be a whole number of at least {minimum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> Any:
        value = self.options.get(key, default)
        if value not in allowed:
            raise self.error(key, f"must be one of {', '.join(allowed)}")
        return value

    def address(self, key: str) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return identities.email(value).address
        except ValidationFailed as exc:
            raise self.error(key, f"is not an email address ({exc.detail})") from None


def load_email_settings(config: ChannelConfig, *, max_attachment_bytes: int) -> EmailSettings:
    """Parse and check the options of an email channel; ConfigError names what is wrong."""
    opts = _Options(config)
    address = opts.address("address")
    if address is None:
        raise opts.error("address", "is required (the mailbox's email address)")
    aliases = opts.options.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise opts.error("aliases", "must be a list of email addresses")
    own = {address}
    for alias in aliases:
        try:
            own.add(identities.email(alias).address)
        except ValidationFailed:
            raise opts.error("aliases", f"holds {alias!r}, which is not an email address") from None

    imap = _imap(opts, address) if opts.text("imap_host") else None
    smtp = _smtp(opts) if opts.text("smtp_host") else None
    if imap is None and smtp is None:
        raise opts.error("imap_host", "or 'smtp_host' is required: the channel would neither receive nor send")
    reply_to = opts.address("reply_to")
    acknowledge = opts.options.get("auto_acknowledge", False)
    if acknowledge is not False and acknowledge not in ("de", "en"):
        raise opts.error("auto_acknowledge", 'must be "de", "en" or false')
    if acknowledge and smtp is None:
        raise opts.error("auto_acknowledge", "needs smtp_host: acknowledgements are sent over SMTP")
    return EmailSettings(
        address=address,
        display_name=opts.text("display_name"),
        reply_to=reply_to,
        own_addresses=frozenset(own | ({reply_to} if reply_to else set())),
        use_reply_to=opts.flag("use_reply_to", True),
        max_message_bytes=opts.integer("max_message_bytes", max(max_attachment_bytes * 2, 1 << 20), minimum=1024),
        imap=imap,
        smtp=smtp,
        acknowledge=acknowledge or None,
        acknowledge_template=opts.text("acknowledge_template"),
        acknowledge_min_interval=timedelta(minutes=opts.number("acknowledge_min_interval_minutes", 10, minimum=0)),
    )


def _imap(opts: _Options, address: str) -> ImapSettings:
    security: Security = opts.choice("imap_security", "tls", _SECURITY)
    password = opts.options.get("imap_password")
    if not isinstance(password, str) or not password:
        raise opts.error("imap_password", "is required with imap_host (set imap_password_env)")
    folders = opts.options.get("imap_folders", ["INBOX"])
    if not isinstance(folders, list) or not folders or not all(isinstance(f, str) and f.strip() for f in folders):
        raise opts.error("imap_folders", "must be a non-empty list of folder names")
    if len(set(folders)) != len(folders):
        raise opts.error("imap_folders", "names a folder twice")
    after_import: AfterImport = opts.choice("after_import", "keep", _AFTER_IMPORT)
    move_to = opts.text("move_to")
    if after_import == "move" and move_to is None:
        raise opts.error("move_to", "is required with after_import = \"move\"")
    if move_to is not None and move_to in folders:
        raise opts.error("move_to", "must not be one of the imported folders")
    first_sync = opts.options.get("first_sync_days", 30)
    if first_sync != "all" and (not isinstance(first_sync, int) or isinstance(first_sync, bool) or first_sync < 0):
        raise opts.error("first_sync_days", 'must be a number of days (0: only new mail) or "all"')
    return ImapSettings(
        host=str(opts.text("imap_host")),
        port=opts.integer("imap_port", 993 if security == "tls" else 143, minimum=1),
        security=security,
        username=opts.text("imap_username") or address,
        password=password,
        folders=tuple(f.strip() for f in folders),
        after_import=after_import,
        move_to=move_to,
        idle=opts.flag("imap_idle", True),
        poll_seconds=opts.number("poll_seconds", 60, minimum=0.1),
        idle_renew_seconds=opts.number("idle_renew_seconds", 25 * 60, minimum=1),
        gap_check_seconds=opts.number("gap_check_seconds", 600, minimum=0.1),
        timeout=opts.number("imap_timeout", 60, minimum=1),
        fetch_batch=_at_most(opts, "fetch_batch", opts.integer("fetch_batch", 100, minimum=1), MAX_FETCH_BATCH),
        first_sync_days=None if first_sync == "all" else int(first_sync),
        tls_verify=opts.flag("imap_tls_verify", True),
        ca_file=opts.text("imap_ca_file"),
    )


# aioimaplib handles each received line in a nested call: a few thousand lines in one
# network read would exceed Python's recursion limit, so a fetch stays well below.
MAX_FETCH_BATCH = 500


def _at_most(opts: _Options, key: str, value: int, limit: int) -> int:
    if value > limit:
        raise opts.error(key, f"must be at most {limit}")
    return value


def _smtp(opts: _Options) -> SmtpSettings:
    security: Security = opts.choice("smtp_security", "starttls", _SECURITY)
    username = opts.text("smtp_username")
    password = opts.options.get("smtp_password")
    if username is not None and (not isinstance(password, str) or not password):
        raise opts.error("smtp_password", "is required with smtp_username (set smtp_password_env)")
    default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
    return SmtpSettings(
        host=str(opts.text("smtp_host")),
        port=opts.integer("smtp_port", default_port, minimum=1),
        security=security,
        username=username,
        password=password if isinstance(password, str) and password else None,
        timeout=opts.number("smtp_timeout", 60, minimum=1),
        tls_verify=opts.flag("smtp_tls_verify", True),
        ca_file=opts.text("smtp_ca_file"),
    )


def since_date(days: int | None, today: date) -> date | None:
    """The first day of the first sync's window (None: everything)."""
    if days is None:
        return None
    return today - timedelta(days=days)
