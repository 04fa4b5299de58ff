// The supervisor wall: queues, agents and waiting work, live over /ws; re-assign by drag or by keyboard.

import { barChart, lineChart, niceMax } from "./charts.js";

const $ = (sel, root = document) => root.querySelector(sel);

export function createWall({ api, live, t, locale }) {
  const state = { queues: [], agents: [], waiting: [], day: null, chartQueue: null, alerts: [] };
  const number = new Intl.NumberFormat(locale);
  const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  const time = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.append(td);
    return td;
  }

  // --- queues -----------------------------------------------------------------
  function renderQueues() {
    const body = $("#wall-queues tbody");
    body.replaceChildren();
    for (const q of state.queues) {
      const row = document.createElement("tr");
      row.dataset.queue = q.name;
      const r = q.routing;
      cell(row, q.name, "name");
      cell(row, number.format(r ? r.now.waiting : q.waiting), "waiting");
      const since = r?.now.oldest_waiting_since
        ?? (q.oldest_waiting_seconds !== null ? new Date(Date.now() - q.oldest_waiting_seconds * 1000).toISOString() : null);
      const wait = cell(row, "–", "longest");
      if (since) wait.dataset.since = since;
      cell(row, number.format(q.unassigned), "unassigned");
      const risk = r ? r.sla.warning + r.sla.missed : null;
      cell(row, risk === null ? "–" : number.format(risk), risk ? "risk alert" : "risk");
      const sl = q.today?.service_level ?? r?.window.service_level ?? null;
      cell(row, sl === null ? "–" : percent.format(sl), "sl");
      const agents = r ? `${number.format(r.now.agents.available)} / ${number.format(r.now.agents.eligible)}` : "–";
      cell(row, agents, "agents");
      body.append(row);
    }
    tick();
  }

  function renderStaffing() {
    const body = $("#wall-staffing tbody");
    body.replaceChildren();
    for (const q of state.queues) {
      const s = q.routing?.staffing;
      const row = document.createElement("tr");
      cell(row, q.name);
      if (!s) {
        const td = cell(row, t("wall.staffing.none"));
        td.colSpan = 4;
      } else {
        cell(row, number.format(s.arrivals_per_hour));
        cell(row, duration(s.average_handle_seconds));
        cell(row, `${number.format(s.agents_needed)} (${percent.format(s.target_service_level)})`);
        const gap = s.agents_needed - s.agents_working;
        cell(row, `${number.format(s.agents_working)}${gap > 0 ? ` (−${number.format(gap)})` : ""}`, gap > 0 ? "alert" : "");
      }
      body.append(row);
    }
  }

  // --- agents and re-assignment ----------------------------------------------
  function renderAgents() {
    const list = $("#wall-agents");
    list.replaceChildren();
    for (const a of state.agents) {
      const item = document.createElement("li");
      item.className = `agent presence-${a.status} activity-${a.activity}`;
      item.dataset.agentId = a.id;
      const name = document.createElement("strong");
      name.textContent = a.name;
      const presence = document.createElement("span");
      presence.className = "presence";
      presence.textContent = `${t(`presence.${a.status}`)} · ${t(`activity.${a.activity}`)}`;
      const since = document.createElement("span");
      since.className = "since";
      if (a.since) since.dataset.since = a.since;
      const load = document.createElement("span");
      load.className = "load";
      load.textContent = Object.entries(a.capacity)
        .filter(([media, limit]) => limit > 0 && (a.load[media] || media !== "voice"))
        .map(([media, limit]) => `${t(`media.${media}`)} ${a.load[media] || 0}/${limit}`)
        .join(" · ");
      item.append(name, presence, since, load);
      item.addEventListener("dragover", (e) => { e.preventDefault(); item.classList.add("drop"); });
      item.addEventListener("dragleave", () => item.classList.remove("drop"));
      item.addEventListener("drop", (e) => {
        e.preventDefault();
        item.classList.remove("drop");
        const id = Number(e.dataTransfer.getData("text/plain"));
        if (id) assign(id, a.id);
      });
      list.append(item);
    }
    renderWaiting();
    tick();
  }

  function renderWaiting() {
    const list = $("#wall-waiting");
    list.replaceChildren();
    $("#wall-waiting-empty").hidden = state.waiting.length > 0;
    for (const c of state.waiting) {
      const item = document.createElement("li");
      item.className = "waiting-item";
      item.draggable = true;
      item.dataset.conversationId = c.id;
      item.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", String(c.id)));
      const head = document.createElement("span");
      head.className = "what";
      head.textContent = `#${c.id} · ${c.queue ?? "–"} · ${c.channel}`;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = c.contact?.name || c.subject || "";  // textContent: customer data is never HTML here
      const since = document.createElement("span");
      since.className = "since";
      if (c.waiting_since) since.dataset.since = c.waiting_since;
      const label = document.createElement("label");
      const select = document.createElement("select");
      select.id = `assign-${c.id}`;
      label.htmlFor = select.id;
      label.className = "visually-hidden";
      label.textContent = t("wall.assign_to", { id: c.id });
      const none = new Option(t("wall.choose_agent"), "");
      select.append(none, ...state.agents.map((a) => new Option(`${a.name} (${t(`presence.${a.status}`)})`, a.id)));
      const button = document.createElement("button");
      button.type = "button";
      button.className = "assign";
      button.textContent = t("wall.assign");
      button.addEventListener("click", () => { if (select.value) assign(c.id, Number(select.value)); });
      item.append(head, who, since, label, select, button);
      list.append(item);
    }
    tick();
  }

  async function assign(conversationId, agentId) {
    const status = $("#wall-status");
    try {
      await api.put(`/api/v1/conversations/${conversationId}/assignee`, { agent_id: agentId });
      const agent = state.agents.find((a) => a.id === agentId);
      status.textContent = t("wall.assigned", { id: conversationId, name: agent ? agent.name : agentId });
      await Promise.all([loadWaiting(), loadAgents()]);
    } catch (error) {
      status.textContent = t("wall.assign_failed", { detail: error.message });
    }
  }

  // --- alerts ----------------------------------------------------------------
  function alert(event) {
    const list = $("#wall-alerts");
    const item = document.createElement("li");
    item.className = `alert ${event.type.replace(".", "-")}`;
    const text = document.createElement("span");
    const queue = state.queues.find((q) => q.id === event.queue_id)?.name ?? "–";
    const at = time.format(new Date(event.occurred_at));
    text.textContent = event.type === "escalation.triggered"
      ? t("wall.alert.escalation", { id: event.conversation_id, queue, step: event.data.step, at })
      : t("wall.alert.sla", { id: event.conversation_id, queue, target: t(`sla.${event.data.target}`), at });
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.textContent = t("wall.dismiss");
    dismiss.setAttribute("aria-label", `${t("wall.dismiss")}: ${text.textContent}`);
    dismiss.addEventListener("click", () => {
      item.remove();
      $("#wall-alerts-empty").hidden = list.children.length > 0;
      $("#wall-alerts-title").focus();
    });
    item.append(text, dismiss);
    list.prepend(item);
    while (list.children.length > 20) list.lastElementChild.remove();
    $("#wall-alerts-empty").hidden = true;
  }

  // --- charts ----------------------------------------------------------------
  function renderCharts() {
    const day = state.day;
    if (!day) return;
    const labels = day.buckets.map((b) => time.format(new Date(b.start)));
    const frt = day.buckets.map((b) => b.first_response_avg_seconds);
    barChart($("#chart-volume"), { title: t("wall.chart.volume"), labels, values: day.buckets.map((b) => b.entered),
      format: (v) => number.format(Math.round(v)) });
    lineChart($("#chart-frt"), { title: t("wall.chart.frt"), labels,
      values: frt, format: (v) => duration(v), max: 60 * niceMax(Math.max(1, ...frt.filter((v) => v !== null).map((v) => v / 60))) });
    lineChart($("#chart-sl"), { title: t("wall.chart.sl"), labels, values: day.buckets.map((b) => b.service_level),
      format: (v) => percent.format(v), max: 1, target: 0.8 });
  }

  // --- loading ---------------------------------------------------------------
  async function loadQueues() {
    const body = await api.get("/api/v1/queues");
    const today = await Promise.all(body.items.map((q) =>
      api.get(`/api/v1/queues/${q.id}/today?tz=${encodeURIComponent(zone)}`).catch(() => null)));
    state.queues = body.items.map((q, i) => ({ ...q, today: today[i]?.total ?? null }));
    const select = $("#chart-queue");
    if (!state.chartQueue && state.queues.length) {  // start with the busiest queue
      state.chartQueue = [...state.queues].sort((a, b) => b.open - a.open)[0].id;
    }
    if (select.options.length !== state.queues.length) {
      select.replaceChildren(...state.queues.map((q) => new Option(q.name, q.id)));
      select.value = String(state.chartQueue);
    }
    const chosen = today[state.queues.findIndex((q) => q.id === state.chartQueue)];
    state.day = chosen ?? state.day;
    renderQueues();
    renderStaffing();
    renderCharts();
  }

  async function loadAgents() {
    state.agents = (await api.get("/api/v1/agents")).items;
    renderAgents();
  }

  async function loadWaiting() {
    const body = await api.get("/api/v1/conversations?status=open&assignee=none&limit=100");
    state.waiting = body.items;
    renderWaiting();
  }

  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll("#wall [data-since]")) {
      node.textContent = duration((now - Date.parse(node.dataset.since)) / 1000);
    }
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  const refreshQueues = debounce(loadQueues, 250);
  const refreshAgents = debounce(loadAgents, 250);
  const refreshWaiting = debounce(loadWaiting, 250);

  function onEvent(event) {
    switch (event.type) {
      case "queue.stats": {
        const q = state.queues.find((x) => x.id === event.queue_id);
        if (q) { q.routing = event.data; renderQueues(); renderStaffing(); }
        break;
      }
      case "escalation.triggered":
        if (event.data.alert) alert(event);
        refreshWaiting();
        break;
      case "sla.breached":
        alert(event);
        refreshQueues();
        break;
      case "agent.presence_changed":
      case "agent.updated":
        refreshAgents();
        break;
      case "conversation.assigned":
      case "conversation.requeued":
      case "conversation.offered":
        refreshAgents();
        refreshWaiting();
        refreshQueues();
        break;
      case "conversation.created":
      case "conversation.status_changed":
      case "conversation.queue_changed":
      case "conversation.priority_changed":
      case "message.received":
      case "message.created":
        refreshQueues();
        refreshWaiting();
        break;
      default:
        break;
    }
  }

  async function start() {
    $("#chart-queue").addEventListener("change", async (e) => {
      state.chartQueue = Number(e.target.value);
      state.day = await api.get(`/api/v1/queues/${state.chartQueue}/today?tz=${encodeURIComponent(zone)}`);
      renderCharts();
    });
    await Promise.all([loadQueues(), loadAgents()]);
    await loadWaiting();
    live.subscribe(onEvent);
    setInterval(tick, 1000);
    setInterval(loadQueues, 60_000);  // the day's buckets move on even when nothing happens
    document.body.dataset.ready = "wall";
  }

  return { start, state };
}
