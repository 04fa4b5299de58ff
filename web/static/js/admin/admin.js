// Admin pages: users and roles, queues and skills, channels with live status, SLA policies,
// canned responses, the audit log. One module; the page's data-section picks what it shows.

const $ = (sel, root = document) => root.querySelector(sel);

function td(row, text, cls) {
  const cell = document.createElement("td");
  cell.textContent = text ?? "–";
  if (cls) cell.className = cls;
  row.append(cell);
  return cell;
}

function button(text, onClick, cls = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function parseSkills(text) {
  const skills = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name, level = "1"] = part.split(":").map((s) => s.trim());
    skills[name] = Number(level);
  }
  return skills;
}

function formatSkills(skills) {
  return Object.entries(skills).map(([k, v]) => `${k}:${v}`).join(", ");
}

/** Connection state and last error from what a channel reports: its own keys, or per folder (mailboxes). */
export function channelHealth(status) {
  const parts = status.folders ? Object.values(status.folders) : [status];
  const known = parts.map((p) => p.connected).filter((v) => typeof v === "boolean");
  const connected = known.length ? known.every(Boolean) : null;
  const outbound = typeof status.outbound === "object" && status.outbound ? status.outbound.last_error : null;
  const error = parts.map((p) => p.last_error).find(Boolean) ?? outbound ?? null;
  return { connected, error: error ? String(error) : null };
}

export function createAdmin({ api, live, t, locale, section }) {
  const when = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "medium" });
  const date = (iso) => (iso ? when.format(new Date(iso)) : "–");
  const seconds = (s) => {
    if (s === null || s === undefined) return "–";
    if (s % 86400 === 0) return `${s / 86400} d`;
    if (s % 3600 === 0) return `${s / 3600} h`;
    if (s % 60 === 0) return `${s / 60} min`;
    return `${s} s`;
  };
  const status = (text) => { $("#admin-status").textContent = text; };
  const failed = (error) => status(t("admin.failed", { detail: error.message }));
  let queues = [];

  async function loadQueueNames() {
    queues = (await api.get("/api/v1/queues")).items.map((q) => q.name);
  }

  // --- users -----------------------------------------------------------------
  async function users() {
    await loadQueueNames();
    const form = $("#user-form");
    const box = $("#user-queues");
    box.replaceChildren(...queues.map((name) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = "queues";
      input.value = name;
      label.append(input, ` ${name}`);
      return label;
    }));
    let all = [];
    async function load() {
      all = [];
      let cursor = null;
      do {
        const page = await api.get(`/api/v1/users?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        all.push(...page.items);
        cursor = page.next;
      } while (cursor);
      const body = $("#users tbody");
      body.replaceChildren();
      for (const u of all) {
        const row = document.createElement("tr");
        row.dataset.userId = u.id;
        td(row, u.name);
        td(row, u.email);
        td(row, t(`role.${u.role}`));
        td(row, u.queues.join(", "));
        td(row, formatSkills(u.skills));
        td(row, u.active ? t("admin.active") : t("admin.inactive"), u.active ? "" : "muted");
        const actions = td(row, "");
        actions.replaceChildren(button(t("admin.edit"), () => edit(u)));
        body.append(row);
      }
    }
    function edit(u) {
      form.reset();
      form.dataset.userId = u ? u.id : "";
      $("#user-form-title").textContent = u ? t("admin.users.edit", { name: u.name }) : t("admin.users.new");
      form.elements.email.value = u ? u.email : "";
      form.elements.email.disabled = Boolean(u);
      form.elements.name.value = u ? u.name : "";
      form.elements.role.value = u ? u.role : "agent";
      form.elements.locale.value = u?.locale ? u.locale.slice(0, 2) : "";
      form.elements.skills.value = u ? formatSkills(u.skills) : "";
      form.elements.active.checked = u ? u.active : true;
      for (const box of form.querySelectorAll("input[name=queues]")) box.checked = Boolean(u?.queues.includes(box.value));
      form.elements.name.focus();
    }
    $("#user-new").addEventListener("click", () => edit(null));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements;
      const body = {
        name: f.name.value.trim(),
        role: f.role.value,
        locale: f.locale.value || null,
        queues: [...form.querySelectorAll("input[name=queues]:checked")].map((b) => b.value),
        skills: parseSkills(f.skills.value),
      };
      if (f.password.value) body.password = f.password.value;
      try {
        if (form.dataset.userId) {
          body.active = f.active.checked;
          await api.patch(`/api/v1/users/${form.dataset.userId}`, body);
        } else {
          body.email = f.email.value.trim();
          if (!body.locale) delete body.locale;
          await api.post("/api/v1/users", body);
        }
        status(t("admin.saved"));
        await load();
      } catch (error) { failed(error); }
    });
    await load();
    edit(null);
  }

  // --- queues, skills and SLA policies (from the config file) ------------------
  async function routingConfig() {
    return api.get("/api/v1/routing/config");
  }

  async function queuesPage() {
    const config = await routingConfig();
    const members = (await api.get("/api/v1/agents")).items;
    const body = $("#queues tbody");
    body.replaceChildren();
    for (const q of config.queues) {
      const row = document.createElement("tr");
      td(row, q.name);
      td(row, q.skills || "–");
      td(row, t(`strategy.${q.strategy}`));
      td(row, String(q.priority));
      td(row, seconds(q.service_level_seconds));
      td(row, q.escalation.map((s) => `${seconds(s.after_seconds)}: ${s.actions.map((a) => t(`escalation.${a}`)).join(", ")}${s.overflow_to ? ` → ${s.overflow_to}` : ""}`).join("; ") || "–");
      td(row, members.filter((a) => a.queue_ids.includes(q.id)).map((a) => `${a.name} (${formatSkills(a.skills) || "–"})`).join(", ") || "–");
      body.append(row);
    }
    $("#capacity").textContent = Object.entries(config.capacity).map(([m, n]) => `${t(`media.${m}`)} ${n}`).join(" · ");
  }

  async function slaPage() {
    const config = await routingConfig();
    const body = $("#sla tbody");
    body.replaceChildren();
    $("#sla-empty").hidden = config.sla.length > 0;
    for (const p of config.sla) {
      const row = document.createElement("tr");
      td(row, p.name);
      for (const target of ["first_response", "next_response", "resolution"]) td(row, seconds(p.targets[target]));
      td(row, `${Math.round(p.warning_at * 100)} %`);
      td(row, p.calendar);
      const scope = [
        p.queues.length ? `${t("admin.sla.queues")}: ${p.queues.join(", ")}` : "",
        p.priorities.length ? `${t("admin.sla.priorities")}: ${p.priorities.join(", ")}` : "",
        p.channels.length ? `${t("admin.sla.channels")}: ${p.channels.join(", ")}` : "",
        p.media.length ? `${t("admin.sla.media")}: ${p.media.map((m) => t(`media.${m}`)).join(", ")}` : "",
      ].filter(Boolean).join("; ");
      td(row, scope || t("admin.sla.everything"));
      body.append(row);
    }
  }

  // --- channels ----------------------------------------------------------------
  async function channels() {
    async function load() {
      const items = (await api.get("/api/v1/channels")).items;
      const body = $("#channels tbody");
      body.replaceChildren();
      for (const c of items) {
        const row = document.createElement("tr");
        row.dataset.channel = c.name;
        td(row, c.name);
        td(row, c.type);
        td(row, c.queue);
        const { connected, error } = channelHealth(c.status);
        const state = connected === null ? t("admin.channels.webhook") : connected ? t("admin.channels.connected")
          : t("admin.channels.disconnected");
        td(row, state, connected === false ? "alert" : "");
        td(row, error ?? "–", error ? "alert" : "");
        td(row, date(c.activity?.last_message_at));
        td(row, `${c.activity?.outbox_pending ?? 0} / ${c.activity?.outbox_dead ?? 0}`, c.activity?.outbox_dead ? "alert" : "");
        td(row, String(c.quarantined), c.quarantined ? "alert" : "");
        body.append(row);
      }
    }
    await load();
    live.subscribe((event) => {
      if (event.type === "channel.quarantined" || event.type === "message.received" || event.type === "message.status_changed") load();
    });
    setInterval(load, 15_000);
  }

  // --- canned responses --------------------------------------------------------
  async function canned() {
    await loadQueueNames();
    const form = $("#canned-form");
    form.elements.queue.replaceChildren(new Option(t("admin.canned.all_queues"), ""), ...queues.map((q) => new Option(q, q)));
    async function load() {
      const body = await api.get("/api/v1/canned-responses?limit=100");
      $("#canned-variables").textContent = Object.entries(body.variables)
        .flatMap(([k, names]) => names.map((n) => `{{ ${k}.${n} }}`)).join("  ");
      const rows = $("#canned tbody");
      rows.replaceChildren();
      for (const c of body.items) {
        const row = document.createElement("tr");
        row.dataset.shortcut = c.shortcut;
        td(row, c.shortcut, "mono");
        td(row, c.title);
        td(row, c.languages.join(", "));
        td(row, c.queue || t("admin.canned.all_queues"));
        td(row, c.format);
        const actions = td(row, "");
        actions.replaceChildren(
          button(t("admin.edit"), () => edit(c)),
          button(t("admin.delete"), async () => {
            if (!window.confirm(t("admin.canned.confirm_delete", { shortcut: c.shortcut }))) return;
            try { await api.del(`/api/v1/canned-responses/${c.id}`); status(t("admin.deleted")); await load(); } catch (error) { failed(error); }
          }, "danger"),
        );
        rows.append(row);
      }
    }
    function edit(c) {
      form.reset();
      form.dataset.cannedId = c ? c.id : "";
      $("#canned-form-title").textContent = c ? t("admin.canned.edit", { shortcut: c.shortcut }) : t("admin.canned.new");
      const f = form.elements;
      f.shortcut.value = c ? c.shortcut : "";
      f.title.value = c ? c.title : "";
      f.queue.value = c?.queue ?? "";
      f.format.value = c ? c.format : "text";
      f.body_de.value = c?.bodies.de ?? "";
      f.body_en.value = c?.bodies.en ?? "";
      f.shortcut.focus();
    }
    $("#canned-new").addEventListener("click", () => edit(null));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements;
      const bodies = {};
      if (f.body_de.value.trim()) bodies.de = f.body_de.value;
      if (f.body_en.value.trim()) bodies.en = f.body_en.value;
      const body = { shortcut: f.shortcut.value.trim(), title: f.title.value.trim(), format: f.format.value,
        queue: f.queue.value || null, bodies };
      try {
        if (form.dataset.cannedId) await api.put(`/api/v1/canned-responses/${form.dataset.cannedId}`, body);
        else await api.post("/api/v1/canned-responses", body);
        status(t("admin.saved"));
        edit(null);
        await load();
      } catch (error) { failed(error); }
    });
    await load();
    edit(null);
  }

  // --- audit log ---------------------------------------------------------------
  async function audit() {
    let next = null;
    const names = {};
    try {
      for (const u of (await api.get("/api/v1/users?limit=200")).items) names[u.id] = u.name;
    } catch { /* names are a nicety */ }
    async function more() {
      const page = await api.get(`/api/v1/audit?limit=50${next ? `&cursor=${encodeURIComponent(next)}` : ""}`);
      const body = $("#audit tbody");
      for (const e of page.items) {
        const row = document.createElement("tr");
        td(row, date(e.at));
        td(row, e.actor_id === null ? t("admin.audit.system") : names[e.actor_id] ?? `#${e.actor_id}`);
        td(row, e.action, "mono");
        td(row, `${e.object_type} ${e.object_id ?? ""}`.trim());
        td(row, JSON.stringify(e.data), "mono data");
        body.append(row);
      }
      next = page.next;
      $("#audit-more").hidden = !next;
    }
    $("#audit-more").addEventListener("click", () => more().catch(failed));
    await more();
  }

  const sections = { users, queues: queuesPage, channels, sla: slaPage, canned, audit };

  async function start() {
    try {
      await sections[section]();
    } catch (error) {
      failed(error);
    }
    document.body.dataset.ready = `admin-${section}`;
  }

  return { start };
}
