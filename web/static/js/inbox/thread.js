// The messages of a conversation: customer messages, replies, notes, calls; email quotes
// collapsed, email HTML (sanitized at ingest) only inside a sandboxed frame.

import { h } from "../dom.js";
import { formatDateTime, formatDuration, t } from "../i18n.js";
import { contactName } from "./format.js";

export function renderThread(conversation, colleagues) {
  return conversation.messages
    .filter((message) => !conversation.messages.some((other) => other.edit_of === message.id))
    .map((message) => renderMessage(message, conversation, colleagues));
}

export function renderMessage(message, conversation, colleagues = []) {
  const kind = message.private ? "note" : message.direction;
  const classes = ["message", kind];
  const author = message.private || message.direction === "out"
    ? (message.author ? message.author.name : "hub")
    : contactName(conversation.contact);
  const head = h(
    "div",
    { class: "message-head" },
    h("span", { class: "author" }, author),
    message.private ? h("span", {}, t("msg.note")) : null,
    h("time", { datetime: message.created_at }, formatDateTime(message.created_at)),
    message.channel && message.channel !== conversation.channel ? h("span", {}, t("msg.via", { channel: message.channel })) : null,
    message.direction === "out" && !message.private
      ? h("span", { class: `msg-status status-${message.status}`, dataset: { status: message.status } }, t(`msg.status.${message.status}`))
      : null,
    message.edit_of ? h("span", {}, t("msg.edited")) : null,
  );
  return h(
    "article",
    { class: classes.join(" "), dataset: { id: message.id }, "aria-label": `${author}, ${formatDateTime(message.created_at)}` },
    head,
    message.subject && message.subject !== conversation.subject ? h("div", { class: "message-subject" }, message.subject) : null,
    renderBody(message, colleagues),
    message.error ? h("p", { class: "status-failed" }, message.error) : null,
    message.attachments.length
      ? h(
          "ul",
          { class: "attachments" },
          message.attachments.map((a) => h("li", {}, h("a", { href: a.url, download: a.filename }, a.filename))),
        )
      : null,
  );
}

function renderBody(message, colleagues) {
  const text = message.text || "";
  const cut = message.quote_start;
  const own = cut !== null && cut !== undefined && cut > 0 && cut < text.length ? text.slice(0, cut).trimEnd() : text;
  const quoted = own === text ? null : text.slice(cut);
  const body = h("div", { class: "message-body" }, message.private ? withMentions(own, colleagues) : own);
  const parts = [body];
  if (quoted) {
    const quote = h("div", { class: "quote", hidden: true }, quoted);
    const toggle = h("button", { type: "button", class: "link-button", "aria-expanded": "false" }, t("msg.show_quote"));
    toggle.addEventListener("click", () => {
      quote.hidden = !quote.hidden;
      quote.setAttribute("aria-expanded", String(!quote.hidden));
      toggle.setAttribute("aria-expanded", String(!quote.hidden));
      toggle.textContent = quote.hidden ? t("msg.show_quote") : t("msg.hide_quote");
    });
    parts.push(toggle, quote);
  }
  if (message.html) parts.push(htmlToggle(message, parts));
  return parts;
}

function htmlToggle(message, textParts) {
  const button = h("button", { type: "button", class: "link-button", "aria-expanded": "false" }, t("msg.show_html"));
  let frame = null;
  let showing = false;
  button.addEventListener("click", () => {
    showing = !showing;
    if (showing && !frame) {
      // No allow-scripts: nothing in the mail can run. allow-same-origin only lets us size the frame.
      frame = h("iframe", {
        class: "message-html",
        src: `/ui/messages/${message.id}/html`,
        sandbox: "allow-same-origin",
        referrerpolicy: "no-referrer",
        title: message.subject || t("msg.show_html"),
      });
      frame.addEventListener("load", () => {
        const doc = frame.contentDocument;
        if (doc && doc.documentElement) frame.height = String(doc.documentElement.scrollHeight + 16);
      });
      button.after(frame);
    }
    if (frame) frame.hidden = !showing;
    for (const part of textParts) {
      if (part.classList.contains("quote")) part.hidden = showing || part.getAttribute("aria-expanded") !== "true";
      else part.hidden = showing;
    }
    button.setAttribute("aria-expanded", String(showing));
    button.textContent = showing ? t("msg.hide_html") : t("msg.show_html");
  });
  return button;
}

/** Text with the @Name of known colleagues marked. */
function withMentions(text, colleagues) {
  const names = colleagues.map((c) => c.name).filter(Boolean).sort((a, b) => b.length - a.length);
  if (!names.length) return text;
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`@(${escaped.join("|")})`, "g");
  const out = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.push(text.slice(last, match.index), h("span", { class: "mention" }, match[0]));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** A phone call of a voice conversation (GET /api/v1/conversations/{id}/call). */
export function renderCall(call) {
  const facts = [t(`call.direction.${call.direction === "out" ? "out" : "in"}`), t(`call.state.${call.state}`)];
  if (call.wait_seconds != null) facts.push(t("call.wait", { time: formatDuration(call.wait_seconds) }));
  if (call.talk_seconds != null) facts.push(t("msg.call_duration", { time: formatDuration(call.talk_seconds) }));
  if (call.outcome) facts.push(t(`call.outcome.${call.outcome}`));
  if (call.end_reason) facts.push(t(`call.end_reason.${call.end_reason}`));
  const recordings = (call.recordings || []).filter((r) => r.url);
  return h(
    "article",
    { class: "message call", "aria-label": t("msg.call") },
    h("div", { class: "message-head" }, h("span", { class: "author" }, t("msg.call")),
      h("time", { datetime: call.started_at }, formatDateTime(call.started_at))),
    h("div", { class: "message-body" }, facts.join(" · ")),
    recordings.length
      ? h("ul", { class: "attachments recordings" }, recordings.map((r, index) => renderRecording(call, r, index, recordings.length)))
      : null,
  );
}

/** A recording: a labelled native player (keyboard: Tab to it, Space plays) and a download link. */
function renderRecording(call, recording, index, count) {
  const id = `call-${call.id}-recording-${recording.id}`;
  const name = count > 1 ? t("call.recording_n", { n: index + 1 }) : t("msg.recording");
  const label = recording.duration_seconds != null ? `${name} (${formatDuration(recording.duration_seconds)})` : name;
  return h(
    "li",
    { class: "recording" },
    h("span", { id }, label),
    h("audio", { controls: true, preload: "none", src: recording.url, "aria-labelledby": id }),
    h("a", { href: recording.url, download: `${id}`, "aria-describedby": id }, t("call.recording_download")),
  );
}
