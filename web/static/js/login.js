// The login form: POST /api/v1/auth/login, then on to where the user wanted to go.

import { ApiError, post } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function showError(text) {
  error.textContent = text;
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await post("/api/v1/auth/login", { email: form.email.value.trim(), password: form.password.value });
    location.assign(form.dataset.next || "/inbox");
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) showError(t("login.failed"));
    else if (failure instanceof ApiError && failure.status === 429)
      showError(t("login.limited", { seconds: failure.problem.retry_after || 60 }));
    else if (failure instanceof ApiError) showError(failure.userMessage);
    else showError(t("error.network"));
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
