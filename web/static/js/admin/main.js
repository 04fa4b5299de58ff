// Entry of the admin pages: the section comes from the page (#hub-context).

import { del, get, patch, post, put } from "../api.js";
import { locale, t } from "../i18n.js";
import { context, live, reportError } from "../shell.js";
import { createAdmin } from "./admin.js";

const admin = createAdmin({
  api: { get, put, post, patch, del },
  live: { subscribe: (handler) => live.on("*", handler) },
  t,
  locale,
  section: context.section,
});
admin.start().catch(reportError);
