// Which conversations the list shows: a built-in view (mine, unassigned, my queues, all),
// filters (status, channel, tag, priority), the search text, and saved views per user.

import { ApiError, del, get, post } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { reportError } from "../shell.js";

const BUILT_IN = {
  mine: { assignee: "me" },
  unassigned: { assignee: "none" },
  queues: { my_queues: "true" },
  all: {},
};
const FILTERS = ["status", "channel", "tag", "priority_min"];
const LAST_KEY = "hub.inbox.last";

export class ViewPicker {
  constructor({ onChange }) {
    this.onChange = onChange;
    this.view = "mine";
    this.filters = {};
    this.q = "";
    this.savedViews = [];
    this.viewButtons = [...document.querySelectorAll("#view-list button.view")];
    this.form = document.getElementById("filters");
    this.search = document.getElementById("search");
    this.savedList = document.getElementById("saved-views");
    this.restore();
    for (const button of this.viewButtons) {
      button.addEventListener("click", () => this.choose(button.dataset.view));
    }
    this.form.addEventListener("change", () => this.readForm());
    this.form.addEventListener("submit", (event) => event.preventDefault());
    let timer;
    this.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.q = this.search.value.trim();
        this.changed();
      }, 250);
    });
    this.setupSaveDialog();
    this.loadSaved();
    this.show();
  }

  /** The list API's query parameters for the current choice. */
  params() {
    const base = BUILT_IN[this.view] || {};
    return { ...base, ...this.filters, q: this.q || undefined };
  }

  choose(view) {
    if (!(view in BUILT_IN)) return;
    this.view = view;
    this.changed();
  }

  readForm() {
    const data = new FormData(this.form);
    this.filters = {};
    for (const name of ["status", "channel", "tag"]) {
      const value = String(data.get(name) || "").trim();
      if (value) this.filters[name] = value;
    }
    const priority = String(data.get("priority") || "");
    if (priority) this.filters.priority_min = priority;
    this.changed();
  }

  changed() {
    localStorage.setItem(LAST_KEY, JSON.stringify({ view: this.view, filters: this.filters, q: this.q }));
    this.show();
    this.onChange(this.params());
  }

  restore() {
    try {
      const last = JSON.parse(localStorage.getItem(LAST_KEY) || "null");
      if (last && last.view in BUILT_IN && this.viewButtons.some((b) => b.dataset.view === last.view)) {
        this.view = last.view;
        this.filters = Object.fromEntries(Object.entries(last.filters || {}).filter(([k]) => FILTERS.includes(k)));
        this.q = last.q || "";
      }
    } catch {
      /* a broken entry is forgotten */
    }
  }

  show() {
    for (const button of this.viewButtons) button.setAttribute("aria-pressed", String(button.dataset.view === this.view));
    this.form.status.value = this.filters.status || "";
    this.form.channel.value = this.filters.channel || "";
    this.form.tag.value = this.filters.tag || "";
    this.form.priority.value = this.filters.priority_min || "";
    this.search.value = this.q;
  }

  async loadSaved() {
    try {
      this.savedViews = (await get("/api/v1/me/views")).items;
    } catch (error) {
      reportError(error);
      return;
    }
    this.renderSaved();
  }

  renderSaved() {
    replace(
      this.savedList,
      this.savedViews.map((saved) =>
        h(
          "li",
          { class: "saved-view" },
          h("button", { type: "button", class: "view", onclick: () => this.apply(saved) }, saved.name),
          h(
            "button",
            { type: "button", class: "delete", "aria-label": t("inbox.delete_view", { name: saved.name }), onclick: () => this.remove(saved) },
            "×",
          ),
        ),
      ),
    );
  }

  apply(saved) {
    const { view, q, ...filters } = saved.params;
    this.view = view in BUILT_IN ? view : "mine";
    this.filters = Object.fromEntries(Object.entries(filters).filter(([k]) => FILTERS.includes(k)));
    this.q = q || "";
    this.changed();
  }

  /** "Save this view" asks for the name in a modal dialog: Enter saves, Esc cancels, focus returns. */
  setupSaveDialog() {
    const trigger = document.getElementById("save-view");
    const dialog = document.getElementById("save-view-dialog");
    const form = document.getElementById("save-view-form");
    const input = document.getElementById("save-view-name");
    const error = document.getElementById("save-view-error");
    const showError = (text) => {
      error.textContent = text;
      error.hidden = !text;
      input.setAttribute("aria-invalid", String(Boolean(text)));
    };
    trigger.addEventListener("click", () => {
      form.reset();
      showError("");
      dialog.showModal();
      input.focus();
    });
    document.getElementById("save-view-cancel").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => trigger.focus());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        showError(t("inbox.save_view_needs_name"));
        input.focus();
        return;
      }
      try {
        await this.saveCurrent(name);
        dialog.close();
      } catch (failure) {
        showError(failure instanceof ApiError ? failure.userMessage : t("error.generic", { detail: String(failure) }));
        input.focus();
      }
    });
  }

  async saveCurrent(name) {
    const params = { view: this.view, ...this.filters };
    if (this.q) params.q = this.q;
    const saved = await post("/api/v1/me/views", { name, params });
    this.savedViews.push(saved);
    this.savedViews.sort((a, b) => a.name.localeCompare(b.name));
    this.renderSaved();
  }

  async remove(saved) {
    try {
      await del(`/api/v1/me/views/${saved.id}`);
      this.savedViews = this.savedViews.filter((v) => v.id !== saved.id);
      this.renderSaved();
    } catch (error) {
      reportError(error);
    }
  }
}
