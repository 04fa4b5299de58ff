// Inbox shortcuts (the help dialog lists them): j/k move, Enter opens, r reply, n note,
// e resolve, a assign to me, / search, ? help. Never while typing in a field.

export function setupKeyboard(actions) {
  const help = document.getElementById("help-dialog");
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing && event.key === "Escape" && !target.closest("dialog")) {
      target.blur(); // Esc leaves a field (the composer handles its own first), so shortcuts work again
      return;
    }
    if (typing || document.querySelector("dialog[open]")) return; // a dialog has the keyboard
    const handler = {
      j: actions.next,
      k: actions.previous,
      r: actions.reply,
      n: actions.note,
      e: actions.resolve,
      a: actions.assignToMe,
      "/": actions.search,
      "?": () => help && help.showModal(),
    }[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  });
}
