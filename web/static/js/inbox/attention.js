// Colleagues on the same conversation: announce that this agent has it open (viewing),
// and collect the others' viewing and typing signals into one warning line.

import { put } from "../api.js";
import { t } from "../i18n.js";
import { live, me } from "../shell.js";

const HEARTBEAT_MS = 30000;
const VIEWING_TTL_MS = 75000;
const TYPING_TTL_MS = 6000;

export class Attention {
  constructor({ colleagues, onChange }) {
    this.names = new Map(colleagues.map((c) => [c.id, c.name]));
    this.onChange = onChange;
    this.conversationId = null;
    this.viewing = new Map(); // user id -> expiry
    this.typing = new Map();
    live.on("conversation.viewing", (event) => this.viewingEvent(event));
    live.on("conversation.typing", (event) => this.typingEvent(event));
    setInterval(() => this.expire(), 1000);
    window.addEventListener("pagehide", () => this.leave({ keepalive: true }));
  }

  enter(id) {
    if (this.conversationId === id) return;
    this.leave();
    this.conversationId = id;
    this.viewing.clear();
    this.typing.clear();
    live.ready().then(() => this.announce(true)); // once live, so the colleagues' answers reach us
    this.heartbeat = setInterval(() => this.announce(true), HEARTBEAT_MS);
    this.onChange("");
  }

  leave({ keepalive = false } = {}) {
    if (this.conversationId === null) return;
    clearInterval(this.heartbeat);
    if (keepalive) {
      const csrf = document.querySelector('meta[name="csrf-token"]');
      fetch(`/api/v1/conversations/${this.conversationId}/viewing`, {
        method: "PUT", keepalive: true, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
        body: JSON.stringify({ viewing: false }),
      }).catch(() => {});
    } else {
      this.announce(false);
    }
    this.conversationId = null;
  }

  announce(viewing) {
    if (this.conversationId === null) return;
    put(`/api/v1/conversations/${this.conversationId}/viewing`, { viewing }).catch(() => {});
  }

  viewingEvent(event) {
    const who = event.data.user_id;
    if (event.conversation_id !== this.conversationId || !me || who === me.id) return;
    if (event.data.viewing) {
      const arrived = !this.viewing.has(who);
      this.viewing.set(who, Date.now() + VIEWING_TTL_MS);
      // Someone just came in: tell them at once that we are here too (once per arrival).
      if (arrived) this.announce(true);
    } else {
      this.viewing.delete(who);
      this.typing.delete(who);
    }
    this.show();
  }

  typingEvent(event) {
    if (event.conversation_id !== this.conversationId || event.data.by !== "agent") return;
    const who = event.data.user_id;
    if (!me || who === me.id) return;
    if (event.data.typing) this.typing.set(who, Date.now() + TYPING_TTL_MS);
    else this.typing.delete(who);
    this.show();
  }

  expire() {
    const now = Date.now();
    let changed = false;
    for (const map of [this.viewing, this.typing]) {
      for (const [who, until] of map) {
        if (until < now) {
          map.delete(who);
          changed = true;
        }
      }
    }
    if (changed) this.show();
  }

  show() {
    const typing = [...this.typing.keys()].map((id) => this.name(id));
    const viewing = [...this.viewing.keys()].filter((id) => !this.typing.has(id)).map((id) => this.name(id));
    const parts = [];
    if (typing.length) parts.push(t("conv.typing", { names: typing.join(", ") }));
    if (viewing.length) parts.push(t("conv.viewing", { names: viewing.join(", ") }));
    this.onChange(parts.join(" "));
  }

  name(id) {
    return this.names.get(id) || `#${id}`;
  }
}
