/* hub web chat widget: one <script> tag puts a chat launcher on any page.
 *
 *   <script src="https://hub.example.com/widget/widget.js" data-channel="site-chat" async></script>
 *
 * Plain modern JavaScript, no framework. Everything is drawn inside a shadow root, so the
 * host page's CSS cannot reach it; customer and agent text is only ever set with
 * textContent, never parsed as HTML. Protocol and options: docs/channels/webchat.md.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__hubChatLoaded) return;
  window.__hubChatLoaded = true;

  const settings = Object.assign({}, window.HubChat || {});
  const base = new URL(script.src).origin;
  const channel = script.dataset.channel || settings.channel;
  if (!channel) {
    console.warn("hub chat: data-channel is missing on the script tag");
    return;
  }
  const api = `${base}/widget/${encodeURIComponent(channel)}`;
  const storageKey = `hubchat:${base}:${channel}`;

  const TEXTS = {
    en: {
      open: "Open chat", close: "Close chat", placeholder: "Write a message…", send: "Send",
      attach: "Attach a file", start: "Start chat", required: "required", typing: "is typing…",
      agentTyping: "Agent", offline: "We are offline right now. Leave your email address and we will answer by email.",
      emailLabel: "Your email address", saveEmail: "Save", emailSaved: "Thank you, we will answer by email.",
      rateQuestion: "How satisfied were you with this chat?", rateComment: "Comment (optional)",
      rateSend: "Send rating", rated: "Thank you for your rating!", tooFast: "You are sending messages too fast.",
      failed: "Could not send", sending: "sending…", sent: "sent", read: "read", you: "You",
      reconnecting: "Reconnecting…", download: "Download", star: "stars",
    },
    de: {
      open: "Chat öffnen", close: "Chat schließen", placeholder: "Nachricht schreiben…", send: "Senden",
      attach: "Datei anhängen", start: "Chat starten", required: "Pflichtfeld", typing: "schreibt…",
      agentTyping: "Mitarbeiter", offline: "Wir sind gerade nicht erreichbar. Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten per E-Mail.",
      emailLabel: "Ihre E-Mail-Adresse", saveEmail: "Speichern", emailSaved: "Danke, wir antworten per E-Mail.",
      rateQuestion: "Wie zufrieden waren Sie mit diesem Chat?", rateComment: "Kommentar (optional)",
      rateSend: "Bewertung senden", rated: "Danke für Ihre Bewertung!", tooFast: "Sie senden zu schnell.",
      failed: "Nicht gesendet", sending: "wird gesendet…", sent: "gesendet", read: "gelesen", you: "Sie",
      reconnecting: "Verbindung wird wiederhergestellt…", download: "Herunterladen", star: "Sterne",
    },
  };
  const pickLanguage = (value) => {
    const lang = String(value || "").toLowerCase().slice(0, 2);
    return lang in TEXTS ? lang : null;
  };
  let lang = pickLanguage(script.dataset.lang) || pickLanguage(settings.lang)
    || pickLanguage(navigator.language) || "en";
  const t = (key) => TEXTS[lang][key];

  // --- state ------------------------------------------------------------------------
  let config = null;
  let socket = null;
  let ready = false;
  let retry = 0;
  let identity = settings.identity || null;
  const outbox = [];          // frames waiting for the socket
  const pending = new Map();  // client_id -> element of a message not yet acknowledged
  const shown = new Map();    // message id -> element
  const conversations = new Map();
  let agentReadUpTo = 0;
  let typingSentAt = 0;
  let typingTimer = null;
  let agentTypingTimer = null;

  const loadStored = () => {
    try { return JSON.parse(localStorage.getItem(storageKey) || "null"); } catch { return null; }
  };
  const store = (value) => {
    try {
      if (value) localStorage.setItem(storageKey, JSON.stringify(value));
      else localStorage.removeItem(storageKey);
    } catch { /* private mode: the chat lasts as long as the page */ }
  };
  let stored = loadStored();
  const identityUser = () => (identity ? String(identity.user_id) : null);
  if (stored && stored.user !== identityUser()) stored = null;  // another user signed in (or out)

  // --- DOM ----------------------------------------------------------------------------
  // A custom element name: no "div { ... }" of the page matches the host element.
  const host = document.createElement("hub-chat-widget");
  host.id = "hub-chat";
  const root = host.attachShadow({ mode: "open" });
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  };
  const style = el("link", { rel: "stylesheet", href: `${base}/widget/widget.css` });
  const launcher = el("button", { class: "launcher", type: "button", part: "launcher" });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H7l-3 3z"/></svg>';
  const title = el("span", { class: "title" });
  const status = el("span", { class: "status" });
  const closeButton = el("button", { class: "close", type: "button", text: "×" });
  const header = el("header", {}, el("div", {}, title, status), closeButton);
  const list = el("ol", { class: "messages", "aria-live": "polite" });
  const typingLine = el("div", { class: "typing", hidden: "" });
  const notice = el("div", { class: "notice", hidden: "" });
  const form = el("form", { class: "prechat", hidden: "" });
  const rating = el("div", { class: "rating", hidden: "" });
  const input = el("textarea", { rows: "1", maxlength: "5000" });
  const fileInput = el("input", { type: "file", hidden: "" });
  const attachButton = el("button", { class: "attach", type: "button" });
  attachButton.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';
  const sendButton = el("button", { class: "send", type: "submit" });
  const composer = el("form", { class: "composer" }, attachButton, fileInput, input, sendButton);
  const panel = el("section", { class: "panel", hidden: "", role: "dialog" },
    header, list, typingLine, notice, rating, form, composer);
  root.append(style, panel, launcher);

  const applyTexts = () => {
    launcher.setAttribute("aria-label", t("open"));
    closeButton.setAttribute("aria-label", t("close"));
    input.placeholder = t("placeholder");
    sendButton.textContent = t("send");
    attachButton.setAttribute("aria-label", t("attach"));
    if (config) title.textContent = config.titles[lang];
    panel.setAttribute("lang", lang);
  };

  const scrollDown = () => { list.scrollTop = list.scrollHeight; };
  const timeOf = (iso) => new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });

  const tick = (item) => {
    const mark = item.querySelector(".mark");
    if (!mark) return;
    const id = Number(item.dataset.id || 0);
    if (!id) return;
    const isRead = id <= agentReadUpTo;
    mark.textContent = isRead ? "✓✓" : "✓";
    mark.title = isRead ? t("read") : t("sent");
  };

  const renderAttachment = (file) => {
    const link = el("a", { href: "#", class: "file", text: `${file.filename} (${Math.ceil(file.size / 1024)} KB)` });
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const blob = await fetchFile(file.id);
      if (!blob) return;
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: file.filename });
      root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
    return link;
  };

  const renderMessage = (message, item = null) => {
    const mine = message.direction === "in";
    item = item || el("li");
    item.className = mine ? "mine" : "theirs";
    item.dataset.id = String(message.id);
    item.replaceChildren();
    if (!mine && message.author) item.append(el("span", { class: "author", text: message.author }));
    if (message.text) item.append(el("p", { text: message.text }));
    for (const file of message.attachments || []) item.append(renderAttachment(file));
    const meta = el("span", { class: "meta", text: timeOf(message.created_at) });
    if (mine) meta.append(" ", el("span", { class: "mark" }));
    item.append(meta);
    if (!item.isConnected) list.append(item);
    tick(item);
    return item;
  };

  const showMessage = (message) => {
    if (shown.has(message.id)) return;
    const waiting = message.client_id ? pending.get(message.client_id) : null;
    if (waiting) pending.delete(message.client_id);
    shown.set(message.id, renderMessage(message, waiting));
    scrollDown();
    if (message.direction === "out") {
      typingLine.hidden = true;
      acknowledge(message.id);
    }
  };

  let lastAgentMessage = 0;
  const acknowledge = (id) => {
    lastAgentMessage = Math.max(lastAgentMessage, id || 0);
    if (!lastAgentMessage) return;
    const visible = !panel.hidden && document.visibilityState === "visible";
    send({ type: visible ? "read" : "delivered", up_to: lastAgentMessage });
  };

  // --- rating -----------------------------------------------------------------------
  const offerRating = (conversationId) => {
    rating.replaceChildren();
    let score = 0;
    const stars = el("div", { class: "stars", role: "radiogroup", "aria-label": t("rateQuestion") });
    for (let i = 1; i <= 5; i += 1) {
      const star = el("button", { type: "button", class: "star", "data-score": String(i), "aria-label": `${i} ${t("star")}`, text: "★" });
      star.addEventListener("click", () => {
        score = i;
        for (const s of stars.children) s.classList.toggle("on", Number(s.dataset.score) <= i);
      });
      stars.append(star);
    }
    const comment = el("textarea", { rows: "2", maxlength: "2000", placeholder: t("rateComment") });
    const submit = el("button", { type: "button", class: "primary", text: t("rateSend") });
    submit.addEventListener("click", () => {
      if (!score) return;
      send({ type: "rate", conversation_id: conversationId, score, comment: comment.value.trim() || null });
    });
    rating.append(el("p", { text: t("rateQuestion") }), stars, comment, submit);
    rating.dataset.conversation = String(conversationId);
    rating.hidden = false;
  };
  const updateConversation = (state) => {
    const known = Object.assign(conversations.get(state.id) || {}, state);
    conversations.set(state.id, known);
    const newest = Math.max(...conversations.keys());
    if (state.id === newest && known.status === "resolved" && !known.rating) offerRating(state.id);
    if (state.id === newest && known.status !== "resolved" && rating.dataset.conversation === String(state.id)) rating.hidden = true;
  };

  // --- offline email ------------------------------------------------------------------
  const offerEmail = () => {
    notice.replaceChildren();
    const field = el("input", { type: "email", required: "", autocomplete: "email", "aria-label": t("emailLabel"), placeholder: t("emailLabel") });
    const save = el("button", { type: "button", class: "primary", text: t("saveEmail") });
    save.addEventListener("click", () => {
      if (!field.checkValidity() || !field.value) { field.reportValidity(); return; }
      send({ type: "email", email: field.value.trim() });
    });
    notice.append(el("p", { text: t("offline") }), field, save);
    notice.hidden = false;
  };

  // --- the socket ---------------------------------------------------------------------
  const send = (frame) => {
    if (socket && ready && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    else if (frame.type === "message" || frame.type === "rate" || frame.type === "email") outbox.push(frame);
  };

  const onFrame = (frame) => {
    switch (frame.type) {
      case "ready": {
        ready = true;
        retry = 0;
        status.textContent = config && !config.online ? "offline" : "";
        agentReadUpTo = frame.agent_read_up_to || 0;
        for (const message of frame.messages) showMessage(message);
        for (const state of frame.conversations) updateConversation(state);
        if (config && !config.online && config.offline_email && !frame.visitor.email) offerEmail();
        while (outbox.length) socket.send(JSON.stringify(outbox.shift()));
        break;
      }
      case "message": showMessage(frame.message); break;
      case "ack": {
        const item = pending.get(frame.client_id);
        if (item && !shown.has(frame.message_id)) {
          pending.delete(frame.client_id);
          renderMessage({
            id: frame.message_id, direction: "in", text: item.dataset.text || item.dataset.file || "",
            created_at: new Date().toISOString(), attachments: [],
          }, item);
          shown.set(frame.message_id, item);
        }
        if (!conversations.has(frame.conversation_id)) conversations.set(frame.conversation_id, { id: frame.conversation_id, status: "open" });
        break;
      }
      case "typing": {
        typingLine.textContent = `${t("agentTyping")} ${t("typing")}`;
        typingLine.hidden = !frame.typing;
        clearTimeout(agentTypingTimer);
        if (frame.typing) agentTypingTimer = setTimeout(() => { typingLine.hidden = true; }, 8000);
        break;
      }
      case "read": {
        agentReadUpTo = Math.max(agentReadUpTo, frame.up_to);
        for (const item of list.querySelectorAll("li.mine")) tick(item);
        break;
      }
      case "conversation": typingLine.hidden = true; updateConversation(frame.conversation); break;
      case "rated": {
        updateConversation({ id: frame.conversation_id, rating: frame.score });
        rating.replaceChildren(el("p", { text: t("rated") }));
        break;
      }
      case "email_saved": notice.replaceChildren(el("p", { text: t("emailSaved") })); break;
      case "error": {
        if (frame.client_id && pending.has(frame.client_id)) {
          const item = pending.get(frame.client_id);
          item.classList.add("failed");
          item.querySelector(".meta").textContent = frame.status === 429 ? t("tooFast") : t("failed");
        }
        break;
      }
      default: break;  // newer servers may send more; ignore what we do not know
    }
  };

  const connect = () => {
    if (!stored || socket) return;
    const url = `${base.replace(/^http/, "ws")}/widget/${encodeURIComponent(channel)}/ws`;
    socket = new WebSocket(url);
    ready = false;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello", token: stored.token })));
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      socket = null;
      ready = false;
      if (event.code === 4401) {  // the session is gone: start afresh with the next message
        stored = null;
        store(null);
        return;
      }
      status.textContent = t("reconnecting");
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry * (0.5 + Math.random() / 2));
    });
  };

  const request = async (path, options = {}) => {
    const response = await fetch(`${api}${path}`, Object.assign({ mode: "cors", credentials: "omit" }, options));
    if (!response.ok) throw new Error(`hub chat: ${path} answered ${response.status}`);
    return response;
  };

  const startSession = async (prechat = {}) => {
    const body = { locale: lang, prechat };
    if (identity) body.identity = identity;
    const response = await request("/sessions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const session = await response.json();
    stored = { token: session.token, user: identityUser() };
    store(stored);
    connect();
  };

  const fetchFile = async (id) => {
    try {
      const response = await request(`/attachments/${id}`, { headers: { Authorization: `Bearer ${stored.token}` } });
      return await response.blob();
    } catch { return null; }
  };

  // --- pre-chat form ---------------------------------------------------------------------
  const needsForm = () => {
    if (!config) return false;
    return config.prechat.length > 0 || (!config.online && config.offline_email);
  };
  const showForm = () => {
    form.replaceChildren();
    const fields = [...config.prechat];
    if (!config.online && config.offline_email && !fields.some((f) => f.name === "email")) {
      fields.push({ name: "email", type: "email", required: true, labels: { en: TEXTS.en.emailLabel, de: TEXTS.de.emailLabel } });
    }
    if (!config.online && config.offline_email) form.append(el("p", { text: t("offline") }));
    for (const field of fields) {
      const required = field.required || (field.name === "email" && !config.online && config.offline_email);
      const control = el("input", {
        name: field.name, type: field.type === "email" ? "email" : "text", maxlength: "500",
        autocomplete: field.name === "name" ? "name" : field.name === "email" ? "email" : "off",
      });
      if (required) control.required = true;
      form.append(el("label", {}, el("span", { text: field.labels[lang] + (required ? ` (${t("required")})` : "") }), control));
    }
    form.append(el("button", { type: "submit", class: "primary", text: t("start") }));
    form.hidden = false;
    composer.hidden = true;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = {};
    for (const control of form.querySelectorAll("input")) if (control.value.trim()) answers[control.name] = control.value.trim();
    await startSession(answers);
    form.hidden = true;
    composer.hidden = false;
    input.focus();
  });

  // --- composing ----------------------------------------------------------------------------
  const newClientId = () => (crypto.randomUUID ? crypto.randomUUID().replaceAll("-", "") : String(Date.now()) + Math.random().toString(16).slice(2));

  const submitText = async () => {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const clientId = newClientId();
    const item = el("li", { class: "mine sending", "data-text": text }, el("p", { text }), el("span", { class: "meta", text: t("sending") }));
    list.append(item);
    pending.set(clientId, item);
    scrollDown();
    if (!stored) await startSession();
    send({ type: "message", client_id: clientId, text });
  };
  composer.addEventListener("submit", (event) => { event.preventDefault(); submitText(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submitText(); }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (now - typingSentAt > 2500) { typingSentAt = now; send({ type: "typing", typing: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { typingSentAt = 0; send({ type: "typing", typing: false }); }, 4000);
  });
  attachButton.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (!stored) await startSession();
    const clientId = newClientId();
    const item = el("li", { class: "mine sending", "data-file": file.name }, el("p", { text: file.name }), el("span", { class: "meta", text: t("sending") }));
    list.append(item);
    pending.set(clientId, item);
    const body = new FormData();
    body.append("client_id", clientId);
    body.append("file", file, file.name);
    try {
      const response = await request("/attachments", { method: "POST", body, headers: { Authorization: `Bearer ${stored.token}` } });
      onFrame(await response.json());
    } catch {
      onFrame({ type: "error", client_id: clientId, status: 0 });
    }
  });

  // --- opening and closing -------------------------------------------------------------------
  const open = () => {
    panel.hidden = false;
    launcher.hidden = true;
    if (!stored && needsForm()) showForm();
    else connect();
    acknowledge(0);
    input.focus();
  };
  const close = () => { panel.hidden = true; launcher.hidden = false; };
  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  document.addEventListener("visibilitychange", () => acknowledge(0));

  // The host page's handle: HubChat.open(), .close(), .setLanguage("de"), .identify({...}), .reset().
  window.HubChat = Object.assign(window.HubChat || {}, {
    open, close,
    setLanguage(value) { lang = pickLanguage(value) || lang; applyTexts(); },
    identify(value) { identity = value; this.reset(); },
    reset() {
      if (socket) socket.close();
      stored = null;
      store(null);
      list.replaceChildren();
      shown.clear();
      pending.clear();
      conversations.clear();
    },
  });

  const start = async () => {
    try {
      config = await (await request("/config")).json();
    } catch (error) {
      console.warn(String(error));
      return;
    }
    host.style.setProperty("--hub-chat-color", config.color);
    applyTexts();
    document.body.append(host);
    if (stored) connect();
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
