// How conversations and contacts are named and labelled in the inbox.

import { h } from "../dom.js";
import { formatCountdown, t } from "../i18n.js";

export function contactName(contact) {
  if (!contact) return t("inbox.unknown_contact");
  if (contact.name) return contact.name;
  const first = (contact.identities || [])[0];
  return first ? first.address : t("inbox.unknown_contact");
}

/** The nearest running SLA target of a conversation, or null. */
export function nextDue(conversation) {
  const running = (conversation.sla || []).filter((s) => s.due_at);
  running.sort((a, b) => new Date(a.due_at) - new Date(b.due_at));
  return running[0] || null;
}

/** A countdown element for an SLA target; `tick()` keeps every `[data-due]` current. */
export function slaChip(sla) {
  const chip = h("span", { class: "chip sla", dataset: { due: sla.due_at, target: sla.target } });
  updateCountdown(chip);
  return chip;
}

const TARGET_KEYS = { first_response: "conv.sla_first", next_response: "conv.sla_next", resolution: "conv.sla_resolution" };

export function updateCountdown(element, now = Date.now()) {
  const due = new Date(element.dataset.due).getTime();
  const left = Math.round((due - now) / 1000);
  const label = t(TARGET_KEYS[element.dataset.target] || "conv.sla_first");
  const time = formatCountdown(left);
  element.textContent = `${label}: ${left < 0 ? t("conv.sla_overdue", { time }) : t("conv.sla_in", { time })}`;
  element.classList.toggle("sla-late", left < 0);
  element.classList.toggle("sla-soon", left >= 0 && left < 15 * 60);
}

/** Refresh every countdown on the page once a second. */
export function startCountdowns() {
  setInterval(() => {
    const now = Date.now();
    for (const element of document.querySelectorAll("[data-due]")) updateCountdown(element, now);
  }, 1000);
}

export function statusChip(status) {
  return h("span", { class: `chip status-${status}` }, t(`status.${status}`));
}

export function priorityChip(priority) {
  if (priority <= 1) return null;
  return h("span", { class: `chip prio-${Math.min(priority, 3)}` }, t("conv.priority_chip", { n: priority }));
}
