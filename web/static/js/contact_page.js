// The full contact page: the contact panel at full width.

import { ContactPanel } from "./contact_panel.js";
import { context } from "./shell.js";

new ContactPanel(document.getElementById("contact-pane"), { full: true }).show(context.contact_id);
