// The open conversation: header with its actions (assign, status, snooze, priority, tags),
// SLA countdowns, the colleagues-here warning, the thread and the composer.

import { get, put, query } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { context, me, reportError } from "../shell.js";
import { Composer } from "./composer.js";
import { contactName, slaChip } from "./format.js";
import { renderCall, renderMessage, renderThread } from "./thread.js";

const SUPERVISOR_ROLES = new Set(["supervisor", "admin"]);

export class ConversationView {
  constructor({ pane, colleagues, onChanged, onSwitch, onClose }) {
    this.pane = pane;
    this.colleagues = colleagues;
    this.onChanged = onChanged;
    this.onSwitch = onSwitch;
    this.onClose = onClose;
    this.conversation = null;
    this.composer = null;
    this.controller = null;
  }

  get id() {
    return this.conversation ? this.conversation.id : null;
  }

  async open(id) {
    if (this.controller) this.controller.abort();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    let conversation;
    let others = [];
    try {
      conversation = await get(`/api/v1/conversations/${id}`, { signal });
      const siblings = await get(`/api/v1/conversations${query({ contact: conversation.contact.id, limit: 20 })}`, { signal });
      others = siblings.items.filter((c) => c.id !== id && c.channel !== conversation.channel && c.status !== "resolved");
      this.call = this.channelInfo(conversation).media === "voice"
        ? await get(`/api/v1/conversations/${id}/call`, { signal }).catch(() => null)
        : null;
    } catch (error) {
      reportError(error);
      return null;
    }
    if (this.composer) this.composer.destroy();
    this.conversation = conversation;
    this.others = others;
    this.actionsOpen = false;
    this.render();
    return conversation;
  }

  /** Fetch again after a live event; keeps the composer (and what is being typed). */
  async refresh() {
    if (!this.conversation) return;
    try {
      const fresh = await get(`/api/v1/conversations/${this.conversation.id}`);
      if (this.call) this.call = await get(`/api/v1/conversations/${fresh.id}/call`).catch(() => this.call);
      const atBottom = this.thread.scrollHeight - this.thread.scrollTop - this.thread.clientHeight < 40;
      this.conversation = fresh;
      replace(this.head, this.renderHead());
      replace(this.thread, this.threadContent());
      if (atBottom) this.thread.scrollTop = this.thread.scrollHeight;
    } catch (error) {
      reportError(error);
    }
  }

  channelInfo(conversation) {
    return (context.channel_info || {})[conversation.channel] || {};
  }

  threadContent() {
    return [this.call ? renderCall(this.call) : null, renderThread(this.conversation, this.colleagues)];
  }

  render() {
    const conversation = this.conversation;
    this.head = h("header", { class: "conv-head" }, this.renderHead());
    this.head.classList.toggle("actions-open", Boolean(this.actionsOpen));
    this.warning = h("p", { class: "presence-warning", role: "status", hidden: true });
    this.head.after(this.warning);
    this.thread = h("div", { class: "thread", tabindex: "0", "aria-label": conversation.subject || `#${conversation.id}` }, this.threadContent());
    this.composer = new Composer({
      conversation,
      colleagues: this.colleagues,
      others: this.others,
      channel: this.channelInfo(conversation),
      onSent: (message) => this.appendMessage(message),
      onSwitch: (id) => this.onSwitch(id),
    });
    replace(this.pane, this.head, this.warning, this.thread, this.composer.element);
    this.thread.scrollTop = this.thread.scrollHeight;
  }

  appendMessage(message) {
    if (this.thread.querySelector(`[data-id="${message.id}"]`)) return;
    this.conversation.messages.push(message);
    this.thread.append(renderMessage(message, this.conversation, this.colleagues));
    this.thread.scrollTop = this.thread.scrollHeight;
  }

  renderHead() {
    const c = this.conversation;
    const supervisor = me && SUPERVISOR_ROLES.has(me.role);
    const assignee = h(
      "select",
      { name: "assignee", "aria-label": t("conv.assignee") },
      h("option", { value: "" }, t("conv.unassigned")),
      (supervisor ? this.colleagues : this.colleagues.filter((u) => u.id === me.id || (c.assignee && u.id === c.assignee.id))).map(
        (u) => h("option", { value: String(u.id), selected: c.assignee && c.assignee.id === u.id }, u.name),
      ),
    );
    assignee.addEventListener("change", () =>
      this.act(() => put(`/api/v1/conversations/${c.id}/assignee`, { agent_id: assignee.value ? Number(assignee.value) : null })),
    );
    const status = h(
      "select",
      { name: "status", "aria-label": t("conv.status") },
      ["open", "pending", "resolved"].map((s) => h("option", { value: s, selected: c.status === s }, t(`status.${s}`))),
      c.status === "snoozed" ? h("option", { value: "snoozed", selected: true }, t("status.snoozed")) : null,
    );
    status.addEventListener("change", () => {
      if (status.value === "snoozed") return;
      this.act(() => put(`/api/v1/conversations/${c.id}/status`, { status: status.value }));
    });
    const snoozeInput = h("input", { type: "datetime-local", name: "snooze", "aria-label": t("conv.snooze_until") });
    const snooze = h("button", { type: "button" }, t("conv.snooze"));
    snooze.addEventListener("click", () => {
      if (!snoozeInput.value) {
        snoozeInput.focus();
        return;
      }
      const until = new Date(snoozeInput.value).toISOString();
      this.act(() => put(`/api/v1/conversations/${c.id}/status`, { status: "snoozed", until }));
    });
    const priority = h("input", {
      type: "number", name: "priority", min: "0", max: "1000", value: String(c.priority),
      "aria-label": t("conv.priority"), disabled: !supervisor,
    });
    priority.addEventListener("change", () =>
      this.act(() => put(`/api/v1/conversations/${c.id}/priority`, { priority: Number(priority.value) })),
    );
    const tags = h("input", { type: "text", name: "tags", value: c.tags.join(", "), "aria-label": t("conv.tags"), placeholder: t("conv.tags_hint") });
    tags.addEventListener("change", () => {
      const list = tags.value.split(",").map((x) => x.trim()).filter(Boolean);
      this.act(() => put(`/api/v1/conversations/${c.id}/tags`, { tags: list }));
    });
    const contactToggle = h("button", { type: "button", class: "contact-toggle", "aria-controls": "contact-pane", "aria-expanded": "false" }, t("contact.panel"));
    contactToggle.addEventListener("click", () => {
      const inbox = document.getElementById("inbox");
      const open = inbox.classList.toggle("show-contact");
      contactToggle.setAttribute("aria-expanded", String(open));
    });
    const back = h("button", { type: "button", class: "back-to-list", onclick: () => this.onClose() }, `← ${t("inbox.back")}`);
    // At phone width the actions fold behind a button, so the thread keeps the screen.
    const actionsId = `conv-actions-${c.id}`;
    const actionsToggle = h("button", { type: "button", class: "actions-toggle", "aria-controls": actionsId, "aria-expanded": String(Boolean(this.actionsOpen)) }, t("conv.actions"));
    actionsToggle.addEventListener("click", () => {
      this.actionsOpen = !this.actionsOpen;
      this.head.classList.toggle("actions-open", this.actionsOpen);
      actionsToggle.setAttribute("aria-expanded", String(this.actionsOpen));
    });
    const title = `${contactName(c.contact)} · ${c.subject || t("inbox.no_subject")} · #${c.id}`;
    return [
      h("h1", { id: "conversation-title", title }, back, " ", contactName(c.contact), h("span", { class: "muted" }, ` · ${c.subject || t("inbox.no_subject")} · #${c.id}`)),
      h("div", { class: "conv-tools" }, actionsToggle, contactToggle),
      h(
        "div",
        { class: "conv-actions", id: actionsId },
        h("label", {}, t("conv.assignee"), assignee),
        h("label", {}, t("conv.status"), status),
        h("label", {}, t("conv.snooze_until"), snoozeInput),
        snooze,
        h("label", {}, t("conv.priority"), priority),
        h("label", {}, t("conv.tags"), tags),
        h("span", { class: "chip" }, c.queue ? `${t("conv.queue")}: ${c.queue}` : c.channel),
      ),
      c.sla.length ? h("div", { class: "sla-row" }, c.sla.map((s) => slaChip(s))) : null,
    ];
  }

  async act(request) {
    try {
      await request();
      await this.refresh();
      this.onChanged();
    } catch (error) {
      reportError(error);
      await this.refresh();
    }
  }

  assignToMe() {
    if (!this.conversation || !me) return;
    this.act(() => put(`/api/v1/conversations/${this.conversation.id}/assignee`, { agent_id: me.id }));
  }

  resolve() {
    if (!this.conversation) return;
    this.act(() => put(`/api/v1/conversations/${this.conversation.id}/status`, { status: "resolved" }));
  }

  showWarning(text) {
    if (!this.warning) return;
    this.warning.textContent = text;
    this.warning.hidden = !text;
  }

  close() {
    if (this.composer) this.composer.destroy();
    this.composer = null;
    this.conversation = null;
    if (this.controller) this.controller.abort();
  }
}
