// Entry of the supervisor wall page: wires the wall to the shell's API client, live socket and catalog.

import { del, get, patch, post, put } from "../api.js";
import { locale, t } from "../i18n.js";
import { live, reportError } from "../shell.js";
import { createWall } from "./wall.js";

const wall = createWall({
  api: { get, put, post, patch, del },
  live: { subscribe: (handler) => live.on("*", handler) },
  t,
  locale,
});
wall.start().catch(reportError);
