// The conversation list: one page from the API, more on demand, refreshed live.

import { get, query } from "../api.js";
import { debounce, h, replace } from "../dom.js";
import { formatShort, t } from "../i18n.js";
import { reportError } from "../shell.js";
import { contactName, nextDue, priorityChip, slaChip, statusChip } from "./format.js";

const PAGE = 50;

export class ConversationList {
  constructor({ onOpen }) {
    this.onOpen = onOpen;
    this.element = document.getElementById("conversation-list");
    this.empty = document.getElementById("list-empty");
    this.more = document.getElementById("list-more");
    this.items = [];
    this.params = {};
    this.next = null;
    this.selected = -1; // keyboard cursor (index into items)
    this.openId = null;
    this.seen = new Map(); // id -> last_message_at when last shown or opened
    this.controller = null;
    this.refreshSoon = debounce(() => this.reload({ keep: true }), 300);
    this.more.addEventListener("click", () => this.loadMore());
  }

  async load(params) {
    this.params = params;
    this.selected = -1;
    await this.reload({ keep: false });
  }

  async reload({ keep }) {
    if (this.controller) this.controller.abort();
    this.controller = new AbortController();
    this.element.setAttribute("aria-busy", "true");
    const selectedId = keep && this.items[this.selected] ? this.items[this.selected].id : null;
    const count = keep ? Math.max(PAGE, Math.min(this.items.length, 100)) : PAGE;
    try {
      const page = await get(`/api/v1/conversations${query({ ...this.params, limit: Math.min(count, 100) })}`, {
        signal: this.controller.signal,
      });
      this.items = page.items;
      this.next = page.next;
    } catch (error) {
      reportError(error);
      return;
    } finally {
      this.element.setAttribute("aria-busy", "false");
    }
    if (selectedId !== null) this.selected = this.items.findIndex((c) => c.id === selectedId);
    this.render();
  }

  async loadMore() {
    if (!this.next) return;
    try {
      const page = await get(`/api/v1/conversations${query({ ...this.params, limit: PAGE, cursor: this.next })}`);
      this.items = this.items.concat(page.items);
      this.next = page.next;
      this.render();
    } catch (error) {
      reportError(error);
    }
  }

  render() {
    replace(this.element, this.items.map((conversation, index) => this.row(conversation, index)));
    this.empty.hidden = this.items.length > 0;
    this.more.hidden = !this.next;
  }

  row(conversation, index) {
    const seenAt = this.seen.get(conversation.id);
    if (seenAt === undefined || conversation.id === this.openId) this.seen.set(conversation.id, conversation.last_message_at);
    const unread = seenAt !== undefined && seenAt !== conversation.last_message_at && conversation.id !== this.openId;
    const due = nextDue(conversation);
    const classes = ["conversation-item"];
    if (unread) classes.push("unread");
    if (index === this.selected) classes.push("selected");
    const link = h(
      "a",
      {
        href: `/inbox/${conversation.id}`,
        dataset: { id: conversation.id },
        onclick: (event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          this.selected = index;
          this.onOpen(conversation.id);
        },
      },
      h(
        "div",
        { class: "item-top" },
        h("span", { class: "who" }, contactName(conversation.contact)),
        h("time", { class: "when", datetime: conversation.last_message_at }, formatShort(conversation.last_message_at)),
      ),
      h("div", { class: "item-subject" }, conversation.subject || `#${conversation.id}`),
      h(
        "div",
        { class: "item-meta" },
        statusChip(conversation.status),
        h("span", { class: "chip" }, conversation.channel),
        priorityChip(conversation.priority),
        conversation.assignee ? h("span", { class: "chip" }, conversation.assignee.name) : null,
        conversation.tags.map((tag) => h("span", { class: "chip" }, `#${tag}`)),
        due ? slaChip(due) : null,
      ),
    );
    return h(
      "li",
      { class: classes.join(" "), dataset: { id: conversation.id }, "aria-current": conversation.id === this.openId ? "true" : null },
      link,
    );
  }

  markOpen(id) {
    this.openId = id;
    const index = this.items.findIndex((c) => c.id === id);
    if (index >= 0) {
      this.selected = index;
      this.seen.set(id, this.items[index].last_message_at);
    }
    this.render();
  }

  /** Move the keyboard cursor by `step` and open that conversation. */
  move(step) {
    if (!this.items.length) return;
    const start = this.selected < 0 ? (step > 0 ? -1 : this.items.length) : this.selected;
    this.selected = Math.max(0, Math.min(this.items.length - 1, start + step));
    this.render();
    const row = this.element.children[this.selected];
    if (row) row.scrollIntoView({ block: "nearest" });
    this.onOpen(this.items[this.selected].id);
  }

  has(id) {
    return this.items.some((c) => c.id === id);
  }
}
