// The reply box: reply or internal note, the channel (and the contact's other channels),
// canned responses after "/", @mentions in notes, attachments, and drafts that survive a reload.

import { ApiError, get, post, put, query } from "../api.js";
import { debounce, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { reportError, toast } from "../shell.js";

const DRAFT_PREFIX = "hub.draft.";
const MAX_FILE_BYTES = 10 * 1024 * 1024;
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;

export class Composer {
  constructor({ conversation, colleagues, others, channel, onSent, onSwitch }) {
    this.conversation = conversation;
    this.channel = channel || {}; // media, can_send, attachments, max_text_length of the conversation's channel
    this.replyable = this.channel.can_send !== false; // e.g. a PBX call: notes, no written reply
    this.colleagues = colleagues;
    this.others = others; // the contact's open conversations on other channels
    this.onSent = onSent;
    this.onSwitch = onSwitch;
    this.mode = "reply";
    this.files = [];
    this.mentions = new Map(); // name -> id
    this.popup = null;
    this.typingSentAt = 0;
    this.element = this.build();
    this.restoreDraft();
    this.updateLimits();
    this.saveDraftSoon = debounce(() => this.saveDraft(), 300);
    if (!this.replyable) this.setMode("note");
  }

  build() {
    const id = this.conversation.id;
    this.replyTab = h("button", { type: "button", role: "tab", "aria-selected": "true", id: `tab-reply-${id}`,
      disabled: !this.replyable, title: this.replyable ? null : t("composer.cannot_reply"),
      onclick: () => this.setMode("reply") }, t("composer.reply"));
    this.noteTab = h("button", { type: "button", role: "tab", "aria-selected": "false", id: `tab-note-${id}`, onclick: () => this.setMode("note") }, t("composer.note"));
    this.channelSelect = h(
      "select",
      { name: "channel", "aria-label": t("composer.channel") },
      h("option", { value: "" }, this.conversation.channel),
      this.others.map((other) => h("option", { value: String(other.id) }, `${other.channel} (#${other.id})`)),
    );
    this.channelSelect.addEventListener("change", () => {
      const target = Number(this.channelSelect.value);
      if (!target) return;
      this.carryDraftTo(target);
      this.onSwitch(target);
    });
    this.textarea = h("textarea", {
      name: "body",
      "aria-label": t("composer.label"),
      placeholder: t("composer.placeholder_reply"),
      maxlength: "20000",
    });
    this.textarea.addEventListener("input", () => this.input());
    this.textarea.addEventListener("keydown", (event) => this.keydown(event));
    this.fileInput = h("input", { type: "file", multiple: true, class: "visually-hidden", id: `files-${id}` });
    this.fileInput.addEventListener("change", () => this.addFiles());
    this.fileList = h("ul", { class: "attachments" });
    this.draftState = h("span", { class: "draft-state", "aria-live": "polite" });
    this.counter = h("span", { class: "draft-state", hidden: !this.channel.max_text_length });
    this.sendButton = h("button", { type: "submit", class: "primary" }, t("composer.send"));
    const form = h(
      "form",
      { class: "composer", "aria-label": t("composer.label") },
      h(
        "div",
        { class: "composer-tabs", role: "tablist" },
        this.replyTab,
        this.noteTab,
        h("label", {}, t("composer.channel"), this.channelSelect),
      ),
      this.textarea,
      this.fileList,
      h(
        "div",
        { class: "composer-foot" },
        this.attachLabel = h("label", { for: `files-${id}`, class: "link-button", tabindex: "0", role: "button",
          onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); this.fileInput.click(); } } },
          `+ ${t("composer.attach")}`),
        this.fileInput,
        this.draftState,
        this.counter,
        h("span", { class: "spacer" }),
        this.sendButton,
      ),
      this.replyable ? null : h("p", { class: "other-channels", role: "note" }, t("composer.cannot_reply")),
      this.others.length
        ? h("p", { class: "other-channels" }, `${t("composer.other_channels")}: ${this.others.map((o) => o.channel).join(", ")}`)
        : null,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    return form;
  }

  setMode(mode) {
    if (mode === "reply" && !this.replyable) return;
    this.saveDraft();
    this.mode = mode;
    this.element.classList.toggle("note-mode", mode === "note");
    this.replyTab.setAttribute("aria-selected", String(mode === "reply"));
    this.noteTab.setAttribute("aria-selected", String(mode === "note"));
    this.textarea.placeholder = mode === "note" ? t("composer.placeholder_note") : t("composer.placeholder_reply");
    this.sendButton.textContent = mode === "note" ? t("composer.add_note") : t("composer.send");
    // Without replies here, the select still leads to the contact's other conversations.
    this.channelSelect.disabled = mode === "note" && this.replyable;
    this.restoreDraft();
    this.closePopup();
    this.updateLimits();
  }

  /** Attachments only where the channel carries them (notes always); the length against the channel's limit. */
  updateLimits() {
    const reply = this.mode === "reply";
    this.attachLabel.hidden = reply && this.channel.attachments === false;
    const limit = this.channel.max_text_length;
    this.counter.hidden = !reply || !limit;
    if (reply && limit) {
      const length = this.textarea.value.length;
      this.counter.textContent = t("composer.length", { length, limit });
      this.counter.classList.toggle("status-failed", length > limit);
    }
  }

  focus(mode) {
    if (mode && mode !== this.mode) this.setMode(mode);
    this.textarea.focus();
  }

  // --- drafts ---------------------------------------------------------------------

  draftKey(id = this.conversation.id, mode = this.mode) {
    return `${DRAFT_PREFIX}${id}.${mode}`;
  }

  saveDraft() {
    const text = this.textarea.value;
    if (text.trim()) {
      localStorage.setItem(this.draftKey(), JSON.stringify({ text, mentions: [...this.mentions], at: Date.now() }));
      this.draftState.textContent = t("composer.draft_saved");
    } else {
      localStorage.removeItem(this.draftKey());
      this.draftState.textContent = "";
    }
  }

  restoreDraft() {
    this.mentions = new Map();
    try {
      const draft = JSON.parse(localStorage.getItem(this.draftKey()) || "null");
      this.textarea.value = draft ? draft.text : "";
      if (draft && Array.isArray(draft.mentions)) this.mentions = new Map(draft.mentions);
      this.draftState.textContent = draft ? t("composer.draft_saved") : "";
    } catch {
      this.textarea.value = "";
    }
  }

  carryDraftTo(target) {
    const text = this.textarea.value;
    if (!text.trim()) return;
    localStorage.setItem(this.draftKey(target, "reply"), JSON.stringify({ text, mentions: [], at: Date.now() }));
    this.textarea.value = "";
    this.saveDraft();
  }

  // --- typing -----------------------------------------------------------------------

  input() {
    this.saveDraftSoon();
    this.updateLimits();
    this.updatePopup();
    if (this.mode !== "reply") return; // a note is never announced to the customer
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingSentAt = now;
      this.signalTyping(true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    this.signalTyping(false);
  }

  signalTyping(typing) {
    put(`/api/v1/conversations/${this.conversation.id}/typing`, { typing }).catch(() => {});
  }

  // --- keys and popups ---------------------------------------------------------------

  keydown(event) {
    if (this.popup && this.popupKeys(event)) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.textarea.blur();
    }
  }

  /** The word being typed at the caret when it starts with "/" (canned) or "@" (mention). */
  trigger() {
    const caret = this.textarea.selectionStart;
    const before = this.textarea.value.slice(0, caret);
    const match = before.match(/(^|\s)([/@])([^\s/@]*)$/);
    if (!match) return null;
    if (match[2] === "@" && this.mode !== "note") return null;
    return { kind: match[2], text: match[3], start: caret - match[3].length - 1, end: caret };
  }

  async updatePopup() {
    const trigger = this.trigger();
    if (!trigger) return this.closePopup();
    const items = trigger.kind === "@" ? this.mentionChoices(trigger.text) : await this.cannedChoices(trigger.text);
    if (this.trigger() === null) return this.closePopup();
    this.showPopup(trigger, items);
  }

  mentionChoices(text) {
    const needle = text.toLowerCase();
    return this.colleagues
      .filter((c) => c.name.toLowerCase().includes(needle))
      .slice(0, 8)
      .map((c) => ({ label: c.name, hint: c.role, insert: async () => { this.mentions.set(c.name, c.id); return `@${c.name} `; } }));
  }

  async cannedChoices(text) {
    let found;
    try {
      found = await get(`/api/v1/canned-responses${query({ q: text || undefined, queue: this.conversation.queue || undefined, limit: 8 })}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) reportError(error);
      return [];
    }
    return (found.items || []).map((item) => ({
      label: `/${item.shortcut} · ${item.title}`,
      hint: item.preview, // the start of its text in this user's language, as plain text
      insert: async () => {
        const rendered = await post(`/api/v1/canned-responses/${item.id}/render`, { conversation_id: this.conversation.id });
        return rendered.format === "html" ? htmlToText(rendered.text) : rendered.text;
      },
    }));
  }

  showPopup(trigger, items) {
    this.closePopup();
    const list = h("ul", { class: "popup", role: "listbox", "aria-label": trigger.kind === "@" ? t("composer.mention") : t("composer.canned") });
    if (!items.length) list.append(h("li", { class: "hint", "aria-disabled": "true" }, trigger.kind === "@" ? t("composer.mention") : t("composer.no_canned")));
    items.forEach((item, index) => {
      list.append(
        h(
          "li",
          { role: "option", "aria-selected": String(index === 0), onmousedown: (event) => { event.preventDefault(); this.choose(index); } },
          item.label,
          item.hint ? h("div", { class: "hint" }, item.hint) : null,
        ),
      );
    });
    this.popup = { element: list, items, index: 0, trigger };
    this.element.append(list);
  }

  popupKeys(event) {
    const popup = this.popup;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!popup.items.length) return true;
      popup.index = (popup.index + (event.key === "ArrowDown" ? 1 : popup.items.length - 1)) % popup.items.length;
      [...popup.element.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === popup.index)));
      return true;
    }
    if ((event.key === "Enter" || event.key === "Tab") && popup.items.length) {
      event.preventDefault();
      this.choose(popup.index);
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      this.closePopup();
      return true;
    }
    return false;
  }

  async choose(index) {
    const popup = this.popup;
    if (!popup) return;
    const { trigger } = popup;
    this.closePopup();
    let text;
    try {
      text = await popup.items[index].insert();
    } catch (error) {
      reportError(error);
      return;
    }
    const value = this.textarea.value;
    this.textarea.value = value.slice(0, trigger.start) + text + value.slice(trigger.end);
    const caret = trigger.start + text.length;
    this.textarea.setSelectionRange(caret, caret);
    this.textarea.focus();
    this.saveDraft();
  }

  closePopup() {
    if (this.popup) this.popup.element.remove();
    this.popup = null;
  }

  // --- attachments -------------------------------------------------------------------

  addFiles() {
    for (const file of this.fileInput.files) {
      if (file.size > MAX_FILE_BYTES) {
        toast(t("error.generic", { detail: `${file.name}: > 10 MB` }), { error: true });
        continue;
      }
      this.files.push(file);
    }
    this.fileInput.value = "";
    this.renderFiles();
  }

  renderFiles() {
    replace(
      this.fileList,
      this.files.map((file, index) =>
        h(
          "li",
          {},
          file.name,
          " ",
          h("button", { type: "button", class: "link-button", "aria-label": t("composer.remove_attachment", { name: file.name }),
            onclick: () => { this.files.splice(index, 1); this.renderFiles(); } }, "×"),
        ),
      ),
    );
  }

  // --- sending -----------------------------------------------------------------------

  async send() {
    const body = this.textarea.value;
    if (!body.trim() && !this.files.length) return;
    const note = this.mode === "note";
    this.sendButton.disabled = true;
    try {
      const attachments = await Promise.all(this.files.map(encodeFile));
      const mentions = note ? [...this.mentions].filter(([name]) => body.includes(`@${name}`)).map(([, id]) => id) : [];
      const payload = { body, private: note, attachments };
      if (mentions.length) payload.mentions = mentions;
      this.idempotencyKey = this.idempotencyKey || crypto.randomUUID();
      const message = await post(`/api/v1/conversations/${this.conversation.id}/messages`, payload, {
        headers: { "Idempotency-Key": this.idempotencyKey },
      });
      this.idempotencyKey = null;
      this.textarea.value = "";
      this.files = [];
      this.mentions = new Map();
      this.renderFiles();
      localStorage.removeItem(this.draftKey());
      this.draftState.textContent = "";
      if (!note) this.stopTyping();
      this.onSent(message);
    } catch (error) {
      if (error instanceof ApiError && error.status < 500) this.idempotencyKey = null; // a refused request may be retried as new
      reportError(error);
    } finally {
      this.sendButton.disabled = false;
    }
  }

  destroy() {
    this.saveDraft();
    this.stopTyping();
    this.closePopup();
  }
}

/** The text of an HTML canned response (parsed inertly: nothing in it runs or loads). */
function htmlToText(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const br of doc.querySelectorAll("br")) br.replaceWith("\n");
  for (const block of doc.querySelectorAll("p, div, li")) block.append("\n");
  return doc.body.textContent.replace(/\n{3,}/g, "\n\n").trim();
}

function encodeFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      const base64 = String(reader.result).split(",", 2)[1] || "";
      resolve({ filename: file.name, content_type: file.type || "application/octet-stream", content_base64: base64 });
    });
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

export function clearDraftsOlderThan(days = 30) {
  const limit = Date.now() - days * 86400000;
  for (const key of Object.keys(localStorage)) {
    if (!key.startsWith(DRAFT_PREFIX)) continue;
    try {
      if ((JSON.parse(localStorage.getItem(key)) || {}).at < limit) localStorage.removeItem(key);
    } catch {
      localStorage.removeItem(key);
    }
  }
}
