// The contact beside a conversation (and on its own page): identities across channels,
// company, attributes, consent, the timeline of interactions, other conversations.

import { ApiError, get, query } from "./api.js";
import { h, replace } from "./dom.js";
import { formatDateTime, formatNumber, formatShort, t } from "./i18n.js";
import { reportError } from "./shell.js";

const TIMELINE_LIMIT = 25;

export class ContactPanel {
  constructor(element, { full = false } = {}) {
    this.element = element;
    this.full = full;
    this.contactId = null;
    this.controller = null;
  }

  /** Load the contact again (after a live event about it), quietly. */
  refresh() {
    if (this.contactId !== null) this.show(this.contactId, { currentConversation: this.currentConversation, quiet: true });
  }

  async show(contactId, { currentConversation = null, quiet = false } = {}) {
    this.currentConversation = currentConversation;
    if (this.controller) this.controller.abort();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.contactId = contactId;
    if (!quiet) replace(this.element, h("p", { class: "muted" }, t("common.loading")));
    let contact;
    try {
      contact = await get(`/api/v1/contacts/${contactId}`, { signal });
    } catch (error) {
      if (error.name !== "AbortError") {
        replace(this.element);
        reportError(error);
      }
      return;
    }
    const [company, attributes, consents, timeline, conversations] = await Promise.all([
      contact.company_id ? optional(get(`/api/v1/companies/${contact.company_id}`, { signal })) : null,
      optional(get("/api/v1/attributes", { signal })),
      optional(get(`/api/v1/contacts/${contactId}/consents/current`, { signal })),
      optional(get(`/api/v1/contacts/${contactId}/timeline${query({ limit: this.full ? 100 : TIMELINE_LIMIT })}`, { signal })),
      optional(get(`/api/v1/conversations${query({ contact: contactId, limit: 20 })}`, { signal })),
    ]);
    if (signal.aborted) return;
    replace(
      this.element,
      h("h2", {}, contact.name || (contact.identities[0] || {}).address || t("inbox.unknown_contact")),
      contact.restricted_at ? h("p", {}, h("span", { class: "badge-restricted" }, t("contact.restricted"))) : null,
      this.section("contact.identities", contact.identities.length
        ? h("ul", {}, contact.identities.map((i) => h("li", {}, h("span", { class: "chip" }, i.kind), " ", i.address)))
        : h("p", { class: "muted" }, t("contact.none"))),
      this.details(contact, company),
      this.attributes(contact, attributes),
      this.consents(consents),
      this.conversations(conversations, currentConversation),
      this.timeline(timeline),
      this.full ? null : h("p", {}, h("a", { href: `/contacts/${contact.id}` }, t("contact.full_page"))),
    );
  }

  section(titleKey, ...content) {
    return [h("h3", {}, t(titleKey)), ...content];
  }

  details(contact, company) {
    const rows = [];
    if (company) rows.push(["contact.company", company.name + (company.domain ? ` (${company.domain})` : "")]);
    if (contact.lifecycle_stage) rows.push(["contact.stage", contact.lifecycle_stage]);
    if (contact.tags.length) rows.push(["contact.tags", contact.tags.join(", ")]);
    if (!rows.length) return null;
    return h("dl", { class: "contact-details" }, rows.map(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value)]));
  }

  attributes(contact, definitions) {
    const entries = Object.entries(contact.attributes || {});
    if (!entries.length) return null;
    const labels = new Map(((definitions && definitions.items) || []).map((d) => [d.key, d.label]));
    return this.section(
      "contact.attributes",
      h("dl", {}, entries.map(([key, value]) => [h("dt", {}, labels.get(key) || key), h("dd", {}, display(value))])),
    );
  }

  consents(consents) {
    const items = (consents && consents.items) || [];
    const stated = items.filter((c) => c.granted !== null);
    return this.section(
      "contact.consents",
      stated.length
        ? h("ul", {}, stated.map((c) =>
            h("li", {}, `${c.purpose} · ${c.channel}: `,
              h("strong", {}, t(c.granted ? "contact.consent.granted" : "contact.consent.withdrawn")),
              c.since ? h("span", { class: "muted" }, ` (${formatShort(c.since)})`) : null)))
        : h("p", { class: "muted" }, t("contact.no_consents")),
    );
  }

  conversations(page, currentId) {
    const items = ((page && page.items) || []).filter((c) => c.id !== currentId);
    if (!items.length) return null;
    return this.section(
      "contact.other_conversations",
      h("ul", {}, items.map((c) =>
        h("li", {}, h("a", { href: `/inbox/${c.id}` }, `#${c.id} ${c.subject || c.channel}`),
          h("span", { class: "muted" }, ` · ${c.channel} · ${t(`status.${c.status}`)} · ${formatShort(c.last_message_at)}`)))),
    );
  }

  timeline(page) {
    const items = (page && page.items) || [];
    if (!items.length) return null;
    return this.section(
      "contact.timeline",
      h("ul", { class: "timeline" }, items.map((entry) =>
        h("li", {},
          h("time", { class: "when", datetime: entry.occurred_at }, formatDateTime(entry.occurred_at)),
          timelineText(entry),
          entry.channel ? h("span", { class: "muted" }, ` · ${entry.channel}`) : null,
          entry.conversation_id ? [" ", h("a", { href: `/inbox/${entry.conversation_id}` }, `#${entry.conversation_id}`)] : null))),
    );
  }
}

function timelineText(entry) {
  const key = `timeline.${entry.kind}`;
  const text = t(key);
  const label = text === key ? entry.kind.replace(/_/g, " ") : text;
  const data = entry.data || {};
  let extra = "";
  if (data.tag) extra = ` #${data.tag}`;
  else if (entry.kind === "status_changed" && data.to) extra = ` → ${t(`status.${data.to}`)}`;
  return `${label}${extra}${entry.actor ? ` (${entry.actor.name})` : ""}`;
}

function display(value) {
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? "✓" : "✗";
  if (value === null || value === undefined) return t("common.none");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

async function optional(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
    if (error.name === "AbortError") return null;
    reportError(error);
    return null;
  }
}
