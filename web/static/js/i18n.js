// Message catalog and locale-aware formatting for the UI.
// The page embeds its catalog (same JSON as the server's templates use) in #hub-catalog.

const catalogElement = document.getElementById("hub-catalog");
const messages = catalogElement ? JSON.parse(catalogElement.textContent) : {};
export const lang = document.documentElement.lang || "en";
// The user's locale for Intl: the browser's own tag when it speaks the UI language (de-AT), else the UI language.
export const locale = (navigator.languages || [navigator.language]).find((tag) => tag && tag.split("-")[0] === lang) || lang;

/** The text for `key` with `{name}` placeholders filled from `params`; the key itself when missing. */
export function t(key, params = {}) {
  const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(locale, { timeStyle: "short" });
const dayMonth = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short" });
const numbers = new Intl.NumberFormat(locale);
const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });

/** A date and time in the user's locale ("1. Dez. 2026, 14:05"). */
export function formatDateTime(value) {
  return value ? dateTime.format(new Date(value)) : t("common.none");
}

/** Time today, else day and month: how lists show when something happened. */
export function formatShort(value) {
  if (!value) return t("common.none");
  const date = new Date(value);
  const now = new Date();
  return date.toDateString() === now.toDateString() ? timeOnly.format(date) : dayMonth.format(date);
}

/** A number with the locale's grouping ("1.234" in German). */
export function formatNumber(value) {
  return numbers.format(value);
}

/** A duration in seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Math.abs(seconds)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

const dayUnit = new Intl.NumberFormat(locale, { style: "unit", unit: "day", unitDisplay: "short" });
const hourUnit = new Intl.NumberFormat(locale, { style: "unit", unit: "hour", unitDisplay: "short" });

/** A countdown length: m:ss below an hour, h:mm:ss below a day, else days and hours ("7 Tg., 11 Std."). */
export function formatCountdown(seconds) {
  const total = Math.abs(seconds);
  if (total < 86400) return formatDuration(total);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  return hours ? `${dayUnit.format(days)} ${hourUnit.format(hours)}` : dayUnit.format(days);
}

/** "in 5 minutes" / "vor 3 Stunden" for a time relative to now. */
export function formatRelative(value, now = Date.now()) {
  const seconds = Math.round((new Date(value).getTime() - now) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === "second") return relative.format(Math.round(seconds / size), unit);
  }
  return "";
}
