// What every signed-in page shares: the live connection, presence and language switches,
// desktop notifications, logout and the message area (toasts).

import { ApiError, get, patch, post, put } from "./api.js";
import { t } from "./i18n.js";
import { Live } from "./live.js";

const contextElement = document.getElementById("hub-context");
export const context = contextElement ? JSON.parse(contextElement.textContent) : {};
export const me = context.user;
export const live = new Live();

const NOTIFY_KEY = "hub.notifications";

/** Show a short message in the polite live region; errors stay longer. */
export function toast(text, { error = false } = {}) {
  const area = document.getElementById("toasts");
  if (!area) return;
  const item = document.createElement("p");
  item.className = error ? "toast toast-error" : "toast";
  item.textContent = text;
  area.append(item);
  setTimeout(() => item.remove(), error ? 8000 : 4000);
}

/** Report a failed API call (or any error) to the user. */
export function reportError(error) {
  if (error && error.name === "AbortError") return;
  toast(error instanceof ApiError ? error.userMessage : t("error.generic", { detail: String(error) }), { error: true });
}

/** True when the user turned desktop notifications on and the browser allows them. */
export function notificationsOn() {
  return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "on";
}

/** A desktop notification when the page is not in front (and the user opted in). */
export function notify(title, body, onClick) {
  if (!notificationsOn() || document.visibilityState === "visible") return;
  const note = new Notification(title, { body, tag: title });
  note.addEventListener("click", () => {
    window.focus();
    if (onClick) onClick();
    note.close();
  });
}

function setupNotifications() {
  const button = document.getElementById("notify-toggle");
  if (!button) return;
  if (!("Notification" in window)) {
    button.hidden = true;
    return;
  }
  const show = () => {
    const on = notificationsOn();
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? t("notify.enabled") : t("notify.enable");
  };
  button.addEventListener("click", async () => {
    if (notificationsOn()) {
      localStorage.setItem(NOTIFY_KEY, "off");
    } else {
      const permission = await Notification.requestPermission();
      if (permission === "granted") localStorage.setItem(NOTIFY_KEY, "on");
      else toast(t("notify.denied"), { error: true });
    }
    show();
  });
  show();
}

async function setupPresence() {
  const tool = document.getElementById("presence-tool");
  const select = document.getElementById("presence-switch");
  if (!tool || !select) return;
  try {
    const agent = await get("/api/v1/agents/me");
    select.value = agent.status;
    tool.hidden = false;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) reportError(error);
    return; // not a routed agent: no presence to switch
  }
  select.addEventListener("change", async () => {
    try {
      await put("/api/v1/agents/me/presence", { status: select.value });
    } catch (error) {
      reportError(error);
    }
  });
  live.on("agent.presence_changed", (event) => {
    if (me && event.user_id === me.id && event.data.presence) {
      const option = [...select.options].find((o) => o.value === event.data.presence);
      if (option) select.value = event.data.presence;
    }
  });
}

function setupLanguage() {
  const select = document.getElementById("lang-switch");
  if (!select) return;
  select.addEventListener("change", async () => {
    try {
      await patch("/api/v1/me", { locale: select.value });
      location.reload();
    } catch (error) {
      reportError(error);
    }
  });
}

function setupLogout() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    live.stop();
    try {
      await post("/api/v1/auth/logout");
    } finally {
      location.assign("/login");
    }
  });
}

function setupLiveStatus() {
  const badge = document.getElementById("live-status");
  if (!badge) return;
  live.onStatus((state) => {
    badge.dataset.state = state;
    badge.textContent = t(`shell.connection.${state}`);
  });
}

document.addEventListener("hub:unauthorized", () => {
  if (context.page === "login") return;
  live.stop();
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
});

if (me) {
  setupLiveStatus();
  setupLanguage();
  setupLogout();
  setupNotifications();
  setupPresence();
  live.start();
}
