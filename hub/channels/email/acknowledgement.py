"""The text of the automatic acknowledgement an email channel sends for a new request.

Built-in texts in German and English; an operator's own template file is rendered in
Jinja2's sandbox with ``name`` (the sender's name), ``subject`` and ``channel``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from hub.channels.email.parse import ParsedMail
from hub.channels.email.tokens import strip_token
from hub.errors import ConfigError
from hub.messages import Acknowledgement

BUILT_IN = Path(__file__).parent / "templates"
LANGUAGES = ("de", "en")

_sandbox = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class Acknowledger:
    """Renders the acknowledgement for a parsed mail."""

    def __init__(self, channel: str, language: str, template_path: str | None, min_interval: timedelta) -> None:
        path = Path(template_path) if template_path else BUILT_IN / f"acknowledgement.{language}.txt"
        try:
            source = path.read_text(encoding="utf-8")
            self._template: Template = _sandbox.from_string(source)
        except (OSError, UnicodeDecodeError, TemplateError) as exc:
            raise ConfigError(f"channel {channel!r}: acknowledgement template {path}: {exc}") from exc
        self.channel = channel
        self.min_interval = min_interval

    def __call__(self, parsed: ParsedMail) -> Acknowledgement:
        subject = strip_token(parsed.subject) if parsed.subject else ""
        try:
            text = self._template.render(name=parsed.sender_name or "", subject=subject, channel=self.channel)
        except TemplateError as exc:  # an operator's template that fails at render time
            raise ConfigError(f"channel {self.channel!r}: acknowledgement template failed: {exc}") from exc
        return Acknowledgement(text=text.strip(), min_interval=self.min_interval)
