// Small hand-written SVG charts for the supervisor wall: bars and lines over the day's buckets.
// Built with createElementNS and attributes only (no inline style), so the page's CSP holds.

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 140;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The smallest of 2, 4, 5, 10, 20, 40, 50, 100, … at or above `value`, so halves are whole numbers. */
export function niceMax(value) {
  let scale = 1;
  for (;;) {
    for (const step of [2, 4, 5, 10]) if (step * scale >= value) return step * scale;
    scale *= 10;
  }
}

function frame(svg, title) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.append(el("title", {}, title));
}

function axes(svg, max, format, labels) {
  const plotH = H - PAD.top - PAD.bottom;
  for (const share of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - share);
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: PAD.left - 4, y: y + 3, class: "tick", "text-anchor": "end" }, format(max * share)));
  }
  const plotW = W - PAD.left - PAD.right;
  const step = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % step) return;
    const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
    svg.append(el("text", { x, y: H - 6, class: "tick", "text-anchor": "middle" }, label));
  });
}

/** Bars: values (numbers) over labels; the latest bucket is drawn as "now". */
export function barChart(svg, { title, labels, values, format = String }) {
  frame(svg, title);
  const max = niceMax(Math.max(1, ...values));
  axes(svg, max, format, labels);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const width = plotW / Math.max(1, values.length);
  values.forEach((value, i) => {
    const h = (plotH * value) / max;
    const bar = el("rect", {
      x: PAD.left + i * width + 1, y: PAD.top + plotH - h, width: Math.max(1, width - 2), height: h,
      class: i === values.length - 1 ? "bar now" : "bar",
    });
    bar.append(el("title", {}, `${labels[i]}: ${format(value)}`));
    svg.append(bar);
  });
}

/** A line through the non-null values; an optional target line (e.g. the 80 % service level). */
export function lineChart(svg, { title, labels, values, format = String, max, min = 1, target }) {
  frame(svg, title);
  const known = values.filter((v) => v !== null && v !== undefined);
  const top = max ?? niceMax(Math.max(min, ...known));
  axes(svg, top, format, labels);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (plotW * (i + 0.5)) / Math.max(1, values.length);
  const y = (v) => PAD.top + plotH * (1 - Math.min(v, top) / top);
  if (target !== undefined) {
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y(target), y2: y(target), class: "target" }));
  }
  let path = "";
  values.forEach((value, i) => {
    if (value === null || value === undefined) return;
    path += `${path ? "L" : "M"}${x(i).toFixed(1)},${y(value).toFixed(1)} `;
    const dot = el("circle", { cx: x(i), cy: y(value), r: 2.5, class: "dot" });
    dot.append(el("title", {}, `${labels[i]}: ${format(value)}`));
    svg.append(dot);
  });
  if (path) svg.insertBefore(el("path", { d: path.trim(), class: "line" }), svg.querySelector("circle"));
  if (!known.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, "–"));
  }
}
