// The agents' inbox: views and filters, the live list, the open conversation, the contact.

import { get } from "../api.js";
import { ContactPanel } from "../contact_panel.js";
import { debounce } from "../dom.js";
import { t } from "../i18n.js";
import { context, live, me, notify, reportError, toast } from "../shell.js";
import { Attention } from "./attention.js";
import { clearDraftsOlderThan } from "./composer.js";
import { ConversationView } from "./conversation.js";
import { startCountdowns } from "./format.js";
import { setupKeyboard } from "./keyboard.js";
import { ConversationList } from "./list.js";
import { ViewPicker } from "./views.js";

const LIST_EVENTS = [
  "message.received", "message.created", "conversation.created", "conversation.assigned",
  "conversation.status_changed", "conversation.queue_changed", "conversation.priority_changed",
  "conversation.tags_changed", "sla.warning", "sla.breached",
];
const OPEN_EVENTS = [...LIST_EVENTS, "message.status_changed"];

const inbox = document.getElementById("inbox");
const pane = document.getElementById("conversation-pane");
const placeholder = document.getElementById("pane-placeholder");

async function colleagues() {
  try {
    return (await get("/api/v1/colleagues")).items;
  } catch (error) {
    reportError(error);
    return [];
  }
}

async function start() {
  clearDraftsOlderThan();
  const staff = await colleagues();
  const contact = new ContactPanel(document.getElementById("contact-pane"));
  const attention = new Attention({ colleagues: staff, onChange: (text) => view.showWarning(text) });

  const list = new ConversationList({ onOpen: (id) => open(id) });
  const view = new ConversationView({
    pane,
    colleagues: staff,
    onChanged: () => list.refreshSoon(),
    onSwitch: (id) => open(id),
    onClose: () => closeConversation(),
  });

  async function open(id, { push = true } = {}) {
    const conversation = await view.open(id);
    if (!conversation) return;
    inbox.classList.add("has-open");
    list.markOpen(id);
    attention.enter(id);
    contact.show(conversation.contact.id, { currentConversation: id });
    if (push && location.pathname !== `/inbox/${id}`) history.pushState({ id }, "", `/inbox/${id}`);
    document.title = `#${id} · ${t("inbox.title")} · hub`;
  }

  function closeConversation() {
    attention.leave();
    view.close();
    inbox.classList.remove("has-open", "show-contact");
    pane.replaceChildren(placeholder);
    list.markOpen(null);
    if (location.pathname !== "/inbox") history.pushState({}, "", "/inbox");
  }

  window.addEventListener("popstate", () => {
    const match = location.pathname.match(/^\/inbox\/(\d+)$/);
    if (match) open(Number(match[1]), { push: false });
    else closeConversation();
  });

  const picker = new ViewPicker({ onChange: (params) => list.load(params) });
  await list.load(picker.params());

  const refreshOpen = debounce(() => view.refresh(), 250);
  for (const type of LIST_EVENTS) live.on(type, () => list.refreshSoon());
  for (const type of OPEN_EVENTS) {
    live.on(type, (event) => {
      if (event.conversation_id === view.id) refreshOpen();
    });
  }
  live.on("message.received", (event) => {
    if (event.conversation_id !== view.id || document.visibilityState !== "visible") {
      notify(t("conv.new_message", { id: event.conversation_id }), event.data.channel || "", () => open(event.conversation_id));
    }
  });
  live.on("conversation.assigned", (event) => {
    if (me && event.data.assignee_id === me.id && event.data.by_user_id !== me.id) {
      const text = t("conv.assigned_to_you", { id: event.conversation_id });
      toast(text);
      notify(text, "", () => open(event.conversation_id));
    }
  });
  live.on("message.mentioned", (event) => {
    if (me && event.user_id === me.id) {
      const text = t("conv.mentioned", { id: event.conversation_id });
      toast(text);
      notify(text, "", () => open(event.conversation_id));
    }
  });
  const refreshContact = debounce(() => contact.refresh(), 500);
  live.on("*", (event) => {
    if (event.contact_id !== null && event.contact_id === contact.contactId && !event.type.startsWith("conversation.typing")
        && event.type !== "conversation.viewing") refreshContact();
  });
  live.on("hello", () => list.refreshSoon()); // after a reconnect: whatever was missed

  setupKeyboard({
    next: () => list.move(1),
    previous: () => list.move(-1),
    reply: () => view.composer && view.composer.focus("reply"),
    note: () => view.composer && view.composer.focus("note"),
    resolve: () => view.resolve(),
    assignToMe: () => view.assignToMe(),
    search: () => document.getElementById("search").focus(),
  });
  startCountdowns();

  if (context.opened) open(context.opened, { push: false });
}

start();
