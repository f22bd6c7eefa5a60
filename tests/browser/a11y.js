// Automated accessibility checks run inside a page (tests/browser): returns a list of problems, empty when none.
// Checks: the page's language, one h1 and no skipped heading levels, a label for every form control, alt text on
// every image, and text contrast of at least 4.5:1 (3:1 for large text) from the computed styles.
const problems = [];
const visible = (el) => {
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 1 && r.height > 1 && s.visibility !== "hidden" && s.display !== "none" && s.clip !== "rect(0px, 0px, 0px, 0px)";
};
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "") + ' "' + (el.textContent || el.value || "").trim().slice(0, 40) + '"';

if (!document.documentElement.lang) problems.push("no lang on <html>");
if (!document.title.trim()) problems.push("no <title>");

const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
const h1s = headings.filter((h) => h.tagName === "H1");
if (h1s.length !== 1) problems.push(`${h1s.length} h1 elements (want exactly one)`);
let previous = 1;
for (const h of headings) {
  const level = Number(h.tagName[1]);
  if (level > previous + 1) problems.push(`heading level skipped: h${previous} then ${describe(h)}`);
  previous = level;
}

for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest("label")
    || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
  if (!labelled) problems.push(`form control without a label: ${describe(el)}`);
}
for (const b of document.querySelectorAll("button")) {
  if (!(b.textContent.trim() || b.getAttribute("aria-label"))) problems.push(`button without text: ${describe(b)}`);
}
for (const img of document.querySelectorAll("img")) {
  if (!img.hasAttribute("alt")) problems.push(`image without alt: ${img.src}`);
}
for (const a of document.querySelectorAll("a")) {
  if (!a.textContent.trim() && !a.getAttribute("aria-label")) problems.push(`link without text: ${a.href}`);
}

const rgba = (text) => {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const luminance = ([r, g, b]) => {
  const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const over = (top, bottom) => {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
};
const background = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let colour = [255, 255, 255, 1];
  for (const layer of layers.reverse()) colour = over(layer, colour);
  return colour;
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
  if (el.closest(".visually-hidden, svg, option, script, style")) continue;
  seen.add(el);
  const s = getComputedStyle(el);
  const bg = background(el);
  const fg = over(rgba(s.color), bg);
  const [l1, l2] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  const ratio = (l1 + 0.05) / (l2 + 0.05);
  const size = parseFloat(s.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1 for ${describe(el)} (${s.color} on rgb(${bg.slice(0, 3).join(", ")}))`);
}
return problems;
