"""What goes to the Graph API for a reply, per platform: request bodies, no I/O.

WhatsApp: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
(text, template, media by an uploaded id). Messenger and Instagram:
https://developers.facebook.com/docs/messenger-platform/reference/send-api
(``messaging_type`` RESPONSE, or MESSAGE_TAG with ``tag`` after the window;
attachments uploaded with the message as ``filedata``).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub.messages import Attachment, Template

WHATSAPP_IMAGE = frozenset({"image/jpeg", "image/png"})
WHATSAPP_VIDEO = frozenset({"video/mp4", "video/3gpp"})


def whatsapp_base(to: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}


def whatsapp_text(to: str, text: str) -> dict[str, Any]:
    return {**whatsapp_base(to), "type": "text", "text": {"preview_url": False, "body": text}}


def whatsapp_template(to: str, template: Template) -> dict[str, Any]:
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        body["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in template.parameters]}
        ]
    return {**whatsapp_base(to), "type": "template", "template": body}


def whatsapp_media_kind(content_type: str) -> str:
    if content_type in WHATSAPP_IMAGE:
        return "image"
    if content_type in WHATSAPP_VIDEO:
        return "video"
    if content_type.startswith("audio/"):
        return "audio"
    return "document"


def whatsapp_upload(item: Attachment) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", item.content_type)
    form.add_field("file", item.content, filename=item.filename, content_type=item.content_type)
    return form


def whatsapp_media(to: str, item: Attachment, media_id: str) -> dict[str, Any]:
    kind = whatsapp_media_kind(item.content_type)
    media: dict[str, Any] = {"id": media_id}
    if kind == "document":
        media["filename"] = item.filename
    return {**whatsapp_base(to), "type": kind, kind: media}


def messaging_type(tag: str | None) -> dict[str, str]:
    return {"messaging_type": "MESSAGE_TAG", "tag": tag} if tag else {"messaging_type": "RESPONSE"}


def messenger_text(recipient: str, text: str, tag: str | None) -> dict[str, Any]:
    return {"recipient": {"id": recipient}, **messaging_type(tag), "message": {"text": text}}


def messenger_attachment(recipient: str, item: Attachment, tag: str | None) -> aiohttp.FormData:
    kind = next((k for k in ("image", "video", "audio") if item.content_type.startswith(k + "/")), "file")
    form = aiohttp.FormData()
    form.add_field("recipient", json.dumps({"id": recipient}))
    for key, value in messaging_type(tag).items():
        form.add_field(key, value)
    form.add_field("message", json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": False}}}))
    form.add_field("filedata", item.content, filename=item.filename, content_type=item.content_type)
    return form
