// 选品中心: one page over the /v1 API. No framework and no build step; every figure shown comes from a
// response. Views are chosen by the URL hash (#/ the home view, #/anchor/<id>?filters, #/product/<id>,
// #/boards ...) so a view can be bookmarked, reloaded and opened from a link.
"use strict";

// ---------------------------------------------------------------------------------------------------------
// DOM and formatting helpers

/** Build an element; children may be strings (always set as text, never parsed as HTML), nodes or arrays. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value;  // CSSOM: allowed by the page's CSP, unlike a style attribute
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  const add = (child) => {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(add);
    else el.append(child instanceof Node ? child : String(child));
  };
  children.forEach(add);
  return el;
}

const $ = (sel) => document.querySelector(sel);
const fill = (el, ...children) => { el.replaceChildren(); children.flat().forEach((c) => c && el.append(c)); };

const num = (x, digits = 0) =>
  x === null || x === undefined ? "—" :
    Number(x).toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const price = (x) => (x === null || x === undefined ? "—" : "¥" + num(x, 2));
/** Money in the reasons' style: ¥6,937 below ten thousand, ¥10.1万 above. */
const yuan = (x) => {
  if (x === null || x === undefined) return "—";
  const v = Number(x);
  if (Math.abs(v) >= 10000) return "¥" + num(v / 10000, 1) + "万";
  return "¥" + num(v, Math.abs(v) < 100 && !Number.isInteger(v) ? 2 : 0);
};
/** An estimate in yuan: whole yuan from ¥10 up (¥69.67 beside ¥462 claimed cents an estimate does not have). */
const estimate = (x) => (x === null || x === undefined ? "—" : yuan(Math.abs(x) >= 10 ? Math.round(x) : x));
/** Beijing time (Asia/Shanghai), whatever the reader's machine is set to: the time every Chinese tool shows. */
const BEIJING = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const beijingParts = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  return Object.fromEntries(BEIJING.formatToParts(d).map((p) => [p.type, p.value]));
};
/** An ISO 8601 instant in Beijing time, to the minute; the raw text if it does not parse. */
const when = (iso) => {
  const p = beijingParts(iso);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : String(iso);
};
/** The day of an ISO 8601 instant in Beijing time. */
const day = (iso) => {
  const p = beijingParts(iso);
  return p ? `${p.year}-${p.month}-${p.day}` : String(iso).slice(0, 10);
};
const pct = (x, digits = 0) => (x === null || x === undefined ? "—" : num(Number(x) * 100, digits) + "%");

/** 下载CSV: the same request as the list on the page, answered as a CSV file by the API (format=csv). */
function csvLink(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  query.set("format", "csv");
  return h("a", { class: "button secondary csv", href: `${path}?${query}`, download: "" }, "下载CSV");
}

const loading = (what) => h("p", { class: "state loading", "aria-busy": "true" }, `正在加载${what}…`);
const empty = (text) => h("p", { class: "state empty" }, text);
// A part that failed because the service could not be reached or had no model yet offers 重试: it loads the
// view again (the address holds its state), so nobody has to navigate away and back after a restart
const failed = (text) => h("p", { class: "state error", role: "alert" }, text,
  text.includes(DOWN_TEXT) || text.includes("暂不可用") ? [" ", h("button", { type: "button", class: "secondary retry",
    onclick: retryView }, "重试")] : null);

/** Render the view again from scratch: a view that keeps parts it already shows (the home boards, an anchor's
 * profile) would otherwise keep the failed ones. */
function retryView() {
  shownView = null;
  delete $("#anchor-body").dataset.anchor;
  route();
}

// ---------------------------------------------------------------------------------------------------------
// API access: errors become one of two kinds, the service cannot be reached, or it answered with an error

class ApiFailure extends Error {
  constructor(kind, status, body) {
    super(body?.error?.message || kind);
    this.kind = kind; // "network" | "http"
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

const DOWN_TEXT = "无法连接选品服务，请确认服务已启动后重试。";

async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const url = path + (query.toString() ? "?" + query : "");
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (err) {
    serviceDown(true);
    throw new ApiFailure("network", 0, null);
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    if (response.status >= 502 && response.status <= 504 && !body) {
      serviceDown(true); // a proxy in front of a stopped service
      throw new ApiFailure("network", response.status, null);
    }
    serviceDown(false);
    throw new ApiFailure("http", response.status, body);
  }
  serviceDown(false);
  if (body && body.model_version) {
    const shown = "模型 " + body.model_version;
    // a new model (a hot reload): what the page read once of the old one (labels, the data's end) is read again
    if ($("#model-version").textContent !== shown && $("#model-version").textContent) modelPromise = null;
    $("#model-version").textContent = shown;
  }
  return body;
}

function serviceDown(down) {
  const banner = $("#banner");
  banner.hidden = !down;
  banner.textContent = down ? DOWN_TEXT : "";
}

/** The sentence shown for a failure in one part of the page. */
function failureText(err, what) {
  if (err.kind === "network") return `${what}加载失败：${DOWN_TEXT}`;
  if (err.status === 503) return `${what}暂不可用：服务尚未加载模型。`;
  if (err.status === 400) return `${what}加载失败：参数有误（${paramProblem(err)}）`;
  return `${what}加载失败（${err.status}）：${err.message}`;
}

// A 400's parameter and rule in the page's words (the API's messages are English, for developers): a deep link
// with k=500 reads 每页条数：不能大于 200, not "k: Input should be less than or equal to 200"
const PARAM_NAMES = { k: "每页条数", offset: "翻页位置", category: "类目", price_min: "最低价", price_max: "最高价",
  commission_min: "佣金率下限（0–1）", min_fans: "最少粉丝数", max_fans: "最多粉丝数", window: "周期", q: "关键词",
  sort: "排序", order: "顺序", tier: "层级", min_sales_7d: "近7天最低销量", max_refund_rate: "退款率上限（0–1）",
  passes_gates: "质量门槛",
  audience_price_min: "粉丝客单价最低值", audience_price_max: "粉丝客单价最高值", category_gmv_min: "类目 GMV 下限",
  gender_share_min: "性别占比", age_share_min: "年龄占比", region_share_min: "地域占比", gender: "性别",
  age_band: "年龄段", region: "地域", metric: "排序指标", sellers_sort: "排序", new: "新人主播",
  exclude_shelf: "不看已上架", new_goods: "只看新品" };
const PARAM_RULES = [
  [/less than or equal to (-?[\d.]+)/, (m) => `不能大于 ${m[1]}`],
  [/greater than or equal to (-?[\d.]+)/, (m) => `不能小于 ${m[1]}`],
  [/greater than (-?[\d.]+)/, (m) => `应大于 ${m[1]}`],
  [/less than (-?[\d.]+)/, (m) => `应小于 ${m[1]}`],
  [/valid integer/, () => "应为整数"],
  [/valid number|finite number/, () => "应为数字"],
  [/unknown '([^']*)'(?:; valid: (.*))?/, (m) => `没有“${m[1]}”` + (m[2] ? `，可选：${m[2]}` : "")],
  [/given more than once/, () => "重复给出"],
  [/valid boolean|unable to interpret input/, () => "应为 是/否（true 或 false）"],
  [/applies only with (\w+)/, (m) => `需同时选择${PARAM_NAMES[m[1]] || m[1]}，或不填`],
  [/below (\w+) \((-?[\d.]+)\): the range is empty/, (m) => `不能小于${PARAM_NAMES[m[1]] || m[1]}（${m[2]}）`],
  [/Input should be (.*)/, (m) => "可选：" + m[1].replace(/'/g, "").split(/,? or |, /)
    .filter((code) => code !== "commission_per_order")  // the old name the page does not offer
    .map((code) => OPTION_NAMES[code] ? `${OPTION_NAMES[code]}（${code}）` : code).join("、")],
];
function paramProblem(err) {
  const field = err.field || "";
  let text = String(err.message || "");
  if (field && text.startsWith(field + ": ")) text = text.slice(field.length + 2);
  const rule = PARAM_RULES.find(([re]) => re.test(text));
  if (rule) text = rule[1](text.match(rule[0]));
  return `${PARAM_NAMES[field] || field || "参数"}：${text}`;
}

// Each part of the page drops answers to requests it has since replaced (typing fast, paging quickly).
const latest = {};
function ticket(part) { latest[part] = (latest[part] || 0) + 1; return latest[part]; }
const current = (part, t) => latest[part] === t;

// Categories of the catalogue, fetched once (filters and boards offer them).
let categoriesPromise = null;
function categories() {
  if (!categoriesPromise) {
    categoriesPromise = api("/v1/search/categories").then((b) => b.items.map((c) => c.category))
      .catch((err) => { categoriesPromise = null; throw err; });
  }
  return categoriesPromise;
}

async function fillCategorySelect(select, selected) {
  try {
    const cats = await categories();
    const first = select.querySelector("option[value='']");
    select.replaceChildren(first || h("option", { value: "" }, "全部类目"),
      ...cats.map((c) => h("option", { value: c }, c)));
  } catch (err) { /* the select keeps 全部类目; the failing part of the page says why */ }
  select.value = selected || "";
}

// ---------------------------------------------------------------------------------------------------------
// Routing

/** A %-escaped part of the address; as typed when its escapes are malformed (a link cut short: "100%"), which then
 * finds nothing and says so, where decodeURIComponent's URIError left every view hidden. */
const decoded = (part) => { try { return decodeURIComponent(part); } catch (err) { return part; } };

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, queryString] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decoded);
  return { view: parts[0] || "home", id: parts[1] || null, params: new URLSearchParams(queryString || "") };
}

function hashOf(view, id, params) {
  const hash = "#/" + view + (id !== null && id !== undefined ? "/" + encodeURIComponent(id) : "");
  const query = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null))
    .toString() : "";
  return query ? hash + "?" + query : hash;
}

function go(view, id, params) {
  const hash = hashOf(view, id, params);
  if (location.hash === hash) route(); else location.hash = hash;
}

/** The address's parameters with `overrides` applied ("" removes one). */
const paramsWith = (overrides) => ({ ...Object.fromEntries(parseHash().params), ...overrides });

/** Put a state in the address without re-rendering the view, so Back, Forward and a reload return to it: a new
 * history entry (`push`), or in place of the current one. */
function record(hash, push) {
  if (location.hash !== hash) history[push ? "pushState" : "replaceState"](null, "", hash);
  lastHash[parseHash().view] = location.hash;  // no hashchange fires: the tab learns the state here
}

/** A list's new state (a page, a sort) in the address of the view on screen, as a new history entry. */
function remember(params) {
  const { view, id } = parseHash();
  record(hashOf(view, id, params), true);
}

let shownView = null;  // the view on screen before this route: a search on the home page keeps its boards
const lastHash = {};  // per view, its last address: a tab goes back to the room, search or board it showed

function route() {
  const { view, id, params } = parseHash();
  const known = ["home", "anchor", "search", "product", "boards", "anchors"].includes(view) ? view : "home";
  const from = shownView;
  shownView = known;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + known;
  if (known !== "home") lastHash[known] = location.hash;
  for (const tab of document.querySelectorAll(".tabs a")) {
    tab.classList.toggle("active", tab.dataset.view === known);
    tab.setAttribute("href", lastHash[tab.dataset.view] || "#/" + (tab.dataset.view === "home" ? "" : tab.dataset.view));
  }
  if (known === "home") showHome(params, from !== "home");
  else if (known === "anchor") showAnchor(id, params);
  else if (known === "search") showSearch(params);
  else if (known === "product") showProduct(id, params);
  else if (known === "anchors") showAnchorBoard(params);
  else showBoards(params);
}

// a title's words each on one line: the browser may break only at the spaces between them (Chrome breaks
// "刷头*4" before the "*" even under keep-all)
const words = (text) => String(text ?? "").split(" ").flatMap((w, i) => [i ? " " : null, w ? h("span", { class: "w" }, w) : null]);
const productLink = (card) => h("a", { href: `#/product/${encodeURIComponent(card.product_id)}`, class: "title" },
  words(card.title));
const anchorLink = (a) => h("a", { href: `#/anchor/${encodeURIComponent(a.anchor_id)}` }, a.name || a.anchor_id);

// ---------------------------------------------------------------------------------------------------------
// 首页: today's boards and the rising goods with no typing, and one box that finds anchors and goods. Each panel
// is a few rows of a /v1 list and links to the view that shows all of it.

const HOME_ROWS = 5;

function showHome(params, boards) {
  const q = (params.get("q") || "").trim();
  $("#home-q").value = q;
  if (q) homeSearch(q); else fill($("#home-results"));
  if (boards) loadHomeBoards();
}

function loadHomeBoards() {
  homePanel("#home-top", "近24小时销量榜",
    withAsOf(() => api("/v1/rankings/top-sales", { window: "1d", k: HOME_ROWS })),
    (body) => body.items.map((it) => homeRow(it.rank, productLink(it.product),
      `${it.product.category} · ${price(it.product.price)}`, `销量 ${num(it.sales)}`, yuan(it.gmv))),
    "近1天暂无上榜商品。", dataAsOf);
  homePanel("#home-hot", "实时爆款", () => api("/v1/rankings/hot", { k: HOME_ROWS }),
    (body) => body.items.map((it) => homeRow(it.rank, productLink(it.product),
      (it.reasons && it.reasons[0] ? it.reasons[0].text : `${it.product.category} · ${price(it.product.price)}`),
      `近${num(body.window_minutes)}分钟 ${num(it.recent_orders)} 单`, `24小时 ${num(it.orders_24h)} 单`)),
    (body) => body.warming_up ? warmingText(body) : "暂无实时爆款：最近没有订单突增的商品。",
    (body) => (body.as_of ? `截至 ${when(body.as_of)}` : null));
  homePanel("#home-anchors", "达人榜",
    withAsOf(() => api("/v1/rankings/anchors", { window: "1d", metric: "gmv", k: HOME_ROWS })),
    (body) => body.items.map((it) => homeRow(it.rank,
      [anchorLink(it.anchor), it.new_anchor && h("span", { class: "tag new-anchor" }, "新人主播")],
      it.audience.text || [it.anchor.tier, it.anchor.main_category].filter(Boolean).join(" · "),
      `GMV ${yuan(it.gmv)}`, `订单 ${num(it.orders)}`)),
    "近1天暂无上榜主播。", dataAsOf);
  homePanel("#home-rising", "涨势商品",
    () => api("/v1/products", { sort: "growth_7d", min_sales_7d: 10, passes_gates: true, k: HOME_ROWS }),
    (body) => body.items.map((hit) => homeRow(hit.rank, productLink(hit.product),
      `${hit.product.category} · ${price(hit.product.price)} · 佣金 ${pct(hit.product.commission_rate)}`,
      h("span", { class: "growth " + (hit.growth_7d > 0 ? "up" : hit.growth_7d < 0 ? "down" : "flat") },
        signedPct(hit.growth_7d)), `近7天 ${num(hit.product.sales_7d)} 件 · ${num(hit.orders_7d)} 单`)),
    "暂无近7天销量 10 件以上且通过质量门槛的商品。", () => "近7天销量 ≥ 10 件 · 通过质量门槛");
}

/** One row of a home panel: rank, the item's link with a line beneath, and two figures on the right. */
const homeRow = (rank, link, sub, figure, second) => h("li", { class: "home-row" },
  h("span", { class: "rank" }, rank),
  h("div", { class: "home-item" }, link, h("div", { class: "muted home-sub" }, sub)),
  h("div", { class: "home-figures" }, h("div", { class: "home-figure" }, figure),
    h("div", { class: "muted home-second" }, second)));

/** Load one panel: its rows, its empty sentence, or why it failed; a note (e.g. the list's time) under the head. */
async function homePanel(sel, what, load, rows, emptyText, note) {
  const box = $(sel + " .panel-body");
  const t = ticket(sel);
  fill(box, loading(what));
  let body;
  try {
    body = await load();
  } catch (err) {
    if (!current(sel, t)) return;
    const unavailable = err.status === 503 || (sel === "#home-hot" && err.status === 404 && !err.field);
    fill(box, failed(unavailable ? `${what}暂不可用：服务尚未提供这项数据。` : failureText(err, what)));
    return;
  }
  if (!current(sel, t)) return;
  const extra = note ? note(body) : null;
  fill(box, extra && h("p", { class: "muted home-note" }, extra),
    body.items && body.items.length ? h("ol", { class: "home-list" }, rows(body))
      : empty(typeof emptyText === "function" ? emptyText(body) : emptyText));
}

/** Why a hot list is empty while the order store warms up: a burst is judged against the good's usual pace over
 * whole hours counted, and a store that has just started counting has none yet. */
const warmingText = () => "尚不能判断爆款：订单计数刚开始，需先积累至少一个完整小时的平时销量作比较。";

/** The home box: anchors by name or id and goods by title or brand, a few of each, with links to all of them. */
async function homeSearch(q) {
  const box = $("#home-results");
  const t = ticket("home-search");
  fill(box, loading("搜索结果"));
  const [anchors, goods] = await Promise.allSettled([api("/v1/search/anchors", { q, k: HOME_ROWS }),
    api("/v1/products", { q, k: HOME_ROWS })]);
  if (!current("home-search", t)) return;
  const part = (title, result, what, list, more) => h("div", { class: "panel home-found" },
    h("div", { class: "panel-head" }, h("h2", {}, title(result)), result.status === "fulfilled" && more(result.value)),
    result.status === "rejected" ? failed(failureText(result.reason, what)) :
      result.value.items.length ? h("ul", { class: "mini-list" }, list(result.value)) : empty(`没有找到与“${q}”相关的${what}。`));
  fill(box, h("div", { class: "grid2 home-found-grid" },
    part((r) => r.status === "fulfilled" ? `主播（${num(r.value.total)}）` : "主播", anchors, "主播",
      (b) => b.items.map((a) => h("li", { class: "found-anchor" }, anchorLink(a),
        h("span", { class: "muted" }, ` ID ${a.anchor_id} · ${a.tier || "—"} · ${a.main_category || "—"} · 粉丝 ${num(a.fans)}`))),
      (b) => b.total > b.items.length && h("a", { class: "more", href: "#/anchor?" + new URLSearchParams({ q }) },
        `全部 ${num(b.total)} 位`)),
    part((r) => r.status === "fulfilled" ? `商品（${num(r.value.total)}）` : "商品", goods, "商品",
      (b) => b.items.map((hit) => h("li", { class: "found-good" }, productLink(hit.product),
        h("span", { class: "muted" }, ` ${hit.product.category} · ${price(hit.product.price)} · 近7天销量 ` +
          `${num(hit.product.sales_7d)}`))),
      (b) => b.total > b.items.length && h("a", { class: "more", href: "#/search?" + new URLSearchParams({ q }) },
        `全部 ${num(b.total)} 个`))));
}

// ---------------------------------------------------------------------------------------------------------
// 主播选品

const ANCHOR_SEARCH_PAGE = 20;
async function searchAnchors(text, offset = 0) {
  const box = $("#anchor-results");
  const q = text.trim();
  if (!q) { fill(box, empty("请输入主播 ID 或昵称。")); return; }
  const t = ticket("search");
  fill(box, loading("主播"));
  let body;
  try {
    body = await api("/v1/search/anchors", { q, k: ANCHOR_SEARCH_PAGE, offset: offsetParam(offset) });
  } catch (err) {
    if (current("search", t)) fill(box, failed(failureText(err, "主播搜索")));
    return;
  }
  if (!current("search", t)) return;
  const exact = body.items.find((a) => String(a.anchor_id) === q) || body.items.find((a) => a.name === q);
  if (!offset && (exact || body.total === 1)) {
    fill(box);
    go("anchor", (exact || body.items[0]).anchor_id);
    return;
  }
  if (!body.total) { fill(box, failed(`未找到主播“${q}”，请检查 ID 或昵称。`)); return; }
  // the search's words (and page) in the address, so Back from the anchor chosen returns to this list (a new
  // entry when searching from an anchor's own page, whose filters stay in its entry)
  record(hashOf("anchor", null, { q, offset: offsetParam(offset) }), Boolean(parseHash().id));
  const pg = body.paging;
  const toPage = (o) => go("anchor", null, { q, offset: offsetParam(o) });
  if (!body.items.length) {  // past the end (an old link)
    fill(box, empty(`“${q}”没有更多主播了。`), pagerNav(pg, toPage, null, 0));
    return;
  }
  fill(box,
    h("div", { class: "list-head" }, h("p", { class: "muted" }, `找到 ${num(body.total)} 位主播` +
      (body.total > body.items.length ? `，第 ${num(pg.offset + 1)}–${num(pg.offset + body.items.length)} 位` : "") + "："),
      csvLink("/v1/search/anchors", { q, k: ANCHOR_SEARCH_PAGE, offset: offsetParam(offset) })),
    h("ul", { class: "anchor-list" }, body.items.map((a) => h("li", {},
      h("a", { href: `#/anchor/${encodeURIComponent(a.anchor_id)}`, class: "anchor-pick",
        onclick: () => fill(box) }, a.name),
      h("span", { class: "muted" }, ` ID ${a.anchor_id} · ${a.tier || "—"} · ${a.main_category || "—"} · 粉丝 ${num(a.fans)}`)))),
    body.total > body.items.length && pagerNav(pg, toPage, null, body.items.length));
}

const FILTER_KEYS = ["category", "price_min", "price_max", "commission_min", "exclude_shelf", "new_goods", "k",
  "offset"];

// the spellings of a yes/no the API accepts (pydantic's): a link with new_goods=1 checks the box it filters by
const TRUE_WORDS = ["true", "1", "on", "yes", "t", "y"];
const FALSE_WORDS = ["false", "0", "off", "no", "f", "n"];
const BOOL_KEYS = ["exclude_shelf", "new_goods"];

function filtersFrom(params) {
  const f = {};
  for (const key of FILTER_KEYS) if (params.get(key)) f[key] = params.get(key);
  for (const key of BOOL_KEYS) {
    const word = (f[key] || "").toLowerCase();
    if (TRUE_WORDS.includes(word)) f[key] = "true";
    else if (FALSE_WORDS.includes(word)) delete f[key];  // an unknown word stays: the API's 400 names it
  }
  return f;
}

async function showAnchor(id, params) {
  const body = $("#anchor-body");
  if (!id) {
    fill(body, h("p", { class: "hint" }, "搜索主播，查看粉丝画像与推荐选品。"));
    if (params.get("q")) {
      $("#anchor-q").value = params.get("q");
      searchAnchors(params.get("q"), Number(params.get("offset")) || 0);
    }
    return;
  }
  $("#anchor-q").value = id;
  fill($("#anchor-results"));
  const filters = filtersFrom(params);
  // A new filter or page on the same anchor reloads only the picks; the profile stays.
  if (!(body.dataset.anchor === String(id) && $("#picks"))) {
    body.dataset.anchor = String(id);
    fill(body, h("div", { id: "profile" }, loading("主播画像")),
      h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "推荐选品")),
        h("form", { id: "filters", class: "filters" }), h("div", { id: "picks" })));
    loadProfile(id, ticket("profile"));
  }
  renderFilters(id, filters);
  loadPicks(id, filters, ticket("picks"));
}

async function loadProfile(id, t) {
  const box = $("#profile");
  let p;
  try {
    p = await api(`/v1/anchors/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!current("profile", t)) return;
    if (err.status === 404) {
      delete $("#anchor-body").dataset.anchor;
      fill($("#anchor-body"), failed(`未找到主播“${id}”。请检查主播 ID，或按昵称搜索。`));
    } else {
      fill(box, failed(failureText(err, "主播画像")));
    }
    return;
  }
  if (!current("profile", t)) return;
  const a = p.anchor;
  const s = p.stats || {};
  fill(box, h("div", { class: "panel profile" },
    h("div", { class: "profile-head" },
      h("h1", { id: "anchor-name" }, a.name),
      h("span", { class: "tag" }, a.tier || "—"),
      h("span", { class: "tag alt" }, "主营 " + (a.main_category || "—")),
      p.new_anchor && h("span", { class: "tag new-anchor" }, "新人主播"),
      h("span", { class: "muted" }, `ID ${a.anchor_id} · 入驻 ${day(p.created_at)}`)),
    h("div", { class: "kpis" },
      kpi("粉丝", num(a.fans)), kpi("全网购买粉丝", num(p.buyers_30d), "近30天在任一直播间下过单的粉丝（不只是在这个直播间）"),
      kpi("近7天订单", num(s.orders_7d)), kpi("近7天 GMV", yuan(s.gmv_7d)),
      kpi("近30天订单", num(s.orders_30d)), kpi("近30天 GMV", yuan(s.gmv_30d)),
      kpi("货架商品", num(s.shelf_size)), kpi("店铺评分", p.shop_rating === null ? "—" : num(p.shop_rating, 1))),
    h("div", { class: "charts" },
      chart("性别", p.audience.gender), chart("年龄", p.audience.age_band),
      chart("地域（前10）", p.audience.region),
      p.audience.spending_level && chart("消费水平（1 级最低）", withUnknown(p.audience.spending_level),
        "占全部粉丝的比例：平台按粉丝的全部消费估计；估计不了的粉丝计入“未知”"),
      chart("近30天购买类目", p.audience.category,
        "买过该类目的粉丝占全部粉丝的比例；一位粉丝可买多个类目，各项合计可超过 100%"))));
}

const kpi = (label, value, title) => h("div", { class: "kpi", title: title || null },
  h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label));

/** Spending levels as bars: "3 级" under the caption 消费水平 (the full label was cut off), and the fans no level
 * could be estimated for as their own bar (未知), so the bars add up to all fans. */
const withUnknown = (shares) => {
  const rest = 1 - shares.reduce((sum, s) => sum + s.share, 0);
  const bars = shares.map((s) => ({ ...s, label: s.label.replace(/^消费水平\s*/, "") }));
  return rest >= 0.0005 ? [...bars, { label: "未知", share: rest }] : bars;
};

/** Shares as horizontal bars; the longest bar is the largest share, the label says the exact figure. */
function chart(title, shares, hint) {
  shares = shares || [];
  const max = Math.max(...shares.map((s) => s.share), 0.0001);
  return h("figure", { class: "chart" }, h("figcaption", { title: hint || null }, title),
    shares.length ? shares.map((s) => h("div", { class: "bar-row" },
      h("span", { class: "bar-label" }, s.label),
      h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: `width:${(s.share / max) * 100}%` })),
      h("span", { class: "bar-value" }, pct(s.share, 1)))) : empty("暂无数据"));
}

function renderFilters(id, f) {
  const form = $("#filters");
  fill(form,
    h("label", {}, "类目 ", h("select", { name: "category", class: "category-select" },
      h("option", { value: "" }, "全部类目"))),
    h("label", {}, "价格 ¥", h("input", { name: "price_min", type: "number", min: "0", step: "any",
      placeholder: "最低", value: f.price_min || "", class: "short" }),
    " – ", h("input", { name: "price_max", type: "number", min: "0", step: "any", placeholder: "最高",
      value: f.price_max || "", class: "short" })),
    h("label", {}, "佣金率 ≥ ", h("input", { name: "commission_min", type: "number", min: "0", max: "100",
      step: "any", placeholder: "如 15", value: f.commission_min ? String(+(f.commission_min * 100).toFixed(4)) : "",
      class: "short" }), "%"),
    h("label", { class: "check" }, h("input", { name: "exclude_shelf", type: "checkbox",
      checked: f.exclude_shelf === "true" }), "不看已上架"),
    h("label", { class: "check", title: "上架不久的商品：多数还没有销量，按类目、价格、标题和店铺估计" },
      h("input", { name: "new_goods", type: "checkbox", checked: f.new_goods === "true" }), "只看新品"),
    h("label", {}, "每页 ", h("select", { name: "k" },
      // a size from the address (k=200) is kept as an option, so 筛选 does not change it behind the user's back
      [...new Set(["10", "20", "50", f.k || "20"])].sort((a, b) => a - b)
        .map((n) => h("option", { value: n, selected: (f.k || "20") === n }, n)))),
    h("button", { type: "submit" }, "筛选"),
    h("button", { type: "button", class: "secondary", onclick: () => go("anchor", id) }, "重置"));
  fillCategorySelect(form.elements.category, f.category);
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const el = form.elements;
    const rate = el.commission_min.value.trim();
    const low = el.price_min.value.trim();
    const high = el.price_max.value.trim();
    if (low !== "" && high !== "" && Number(low) > Number(high)) {
      fill($("#picks"), failed("筛选条件有误：最低价不能高于最高价。"));
      return;
    }
    go("anchor", id, {
      category: el.category.value, price_min: low, price_max: high,
      commission_min: rate === "" ? "" : String(Number(rate) / 100),
      exclude_shelf: el.exclude_shelf.checked ? "true" : "", new_goods: el.new_goods.checked ? "true" : "",
      k: el.k.value === "20" ? "" : el.k.value,
    });
  };
}

async function loadPicks(id, f, t) {
  const box = $("#picks");
  fill(box, loading("推荐选品"));
  let body;
  try {
    body = await api(`/v1/anchors/${encodeURIComponent(id)}/picks`, f);
  } catch (err) {
    if (!current("picks", t)) return;
    if (err.status === 404 && err.field === "anchor_id") return; // the profile says the anchor is unknown
    fill(box, failed(err.status === 400 ? `筛选条件有误：${paramProblem(err)}` : failureText(err, "推荐选品")));
    return;
  }
  if (!current("picks", t)) return;
  const pg = body.paging;
  if (!body.items.length) {
    fill(box, empty(pg.offset > 0 ? "没有更多推荐了。" : "没有符合筛选条件的商品，请放宽筛选条件。"),
      pager(id, f, pg, 0));
    return;
  }
  fill(box,
    h("div", { class: "list-head" }, h("p", { class: "muted", id: "picks-summary" },
      `第 ${pg.offset + 1}–${pg.offset + body.items.length} 个，共 ${num(pg.candidates)} 个候选商品通过质量门槛与筛选`),
    csvLink(`/v1/anchors/${encodeURIComponent(id)}/picks`, f)),
    h("div", { class: "cards" }, body.items.map(pickCard)),
    pager(id, f, pg, body.items.length));
}

/** A list's pager: 上一页 / 下一页 call `to(offset)`; turning a page brings the list's top into view (the reader
 * clicked at its bottom), and a list that goes on past the deepest page the API serves says so. `shown`: rows on
 * this page (0: nothing after it). */
const MAX_OFFSET = 10000;  // schemas.MAX_OFFSET
function pagerNav(pg, to, middle, shown = 1) {
  if (!shown && !pg.offset) return null;  // nothing at all: nothing to turn
  // past the end (an old link), 上一页 is the list's last page, not the empty one before this
  const past = !shown && pg.candidates > 0 && pg.offset >= pg.candidates;
  const prev = past ? Math.floor((pg.candidates - 1) / pg.k) * pg.k : pg.offset > 0 ? Math.max(0, pg.offset - pg.k) : null;
  const turn = (offset) => (ev) => {
    const list = ev.currentTarget.closest("nav").parentElement;
    if (list.getBoundingClientRect().top < 0) list.scrollIntoView({ block: "start" });
    to(offset);
  };
  const capped = pg.next_offset === null && shown > 0 && pg.candidates > pg.offset + shown;
  return h("nav", { class: "pager", "aria-label": "翻页" },
    h("button", { type: "button", class: "secondary", disabled: prev === null, onclick: turn(prev) }, "上一页"),
    middle || h("span", { class: "muted" }, `第 ${num(Math.floor(pg.offset / pg.k) + 1)} 页`),
    h("button", { type: "button", class: "secondary", disabled: pg.next_offset === null || !shown,
      onclick: turn(pg.next_offset) }, "下一页"),
    capped && h("span", { class: "muted pager-cap" },
      `列表最多翻到第 ${num(MAX_OFFSET)} 条，其余 ${num(pg.candidates - pg.offset - shown)} 条请用筛选条件缩小范围后查看`));
}

const offsetParam = (offset) => (offset ? String(offset) : "");

function pager(id, f, pg, shown) {
  return pagerNav(pg, (offset) => go("anchor", id, { ...f, offset: offsetParam(offset) }), null, shown);
}

// The quality gates of the served ranking (GET /v1/model), so the badge agrees with what the ranker refuses.
let gates = null;
async function loadGates() {
  try {
    const r = (await modelInfo()).ranking;  // the one read of /v1/model the rest of the page shares
    gates = { refund: r.max_refund_rate, rating: r.min_shop_rating };
  } catch (err) { gates = null; /* badges stay neutral; the parts of the page that fail say why */ }
}

function qualityBadge(card, passes = true) {
  let kind = passes === false ? "bad" : "ok";  // failing a gate (an invalid value included) is never green
  let title = "退款率 / 店铺评分";
  if (gates) {
    const fails = passes === false || (card.refund_rate ?? 0) > gates.refund || (card.shop_rating ?? 5) < gates.rating;
    kind = fails ? "bad" : "good";
    title = `质量门槛：退款率不高于 ${pct(gates.refund)}，店铺评分不低于 ${num(gates.rating, 1)}`;
  }
  return h("span", { class: "badge " + kind, title },
    `退款率 ${pct(card.refund_rate, 1)} · 店铺 ${card.shop_rating === null ? "—" : num(card.shop_rating, 1)}分`);
}

const SUPPORT = { new_goods: "新品扶持", small_merchant: "中小商家扶持", new_shop: "新店扶持" };

function expectedEarnings(pick) {
  // yuan only where the model gives expected orders; the vectors' affinity is a match, not money
  const b = pick.breakdown;
  if (b.expected_commission_30d === undefined) {
    return h("div", { title: "与你直播间最匹配的商品相比" }, h("span", { class: "label" }, "匹配度"),
      h("span", { class: "expected" }, pct(b.relative_affinity, 0)));
  }
  const range = b.expected_commission_30d_p05 === undefined ? "" :
    `；90% 可能在 ${estimate(b.expected_commission_30d_p05)}–${estimate(b.expected_commission_30d_p95)} 之间`;
  const rate = b.commission_rate ?? pick.product.commission_rate;
  return h("div", { title: `预计上架30天卖 ${num(b.affinity, 1)} 单 × 每单 ${yuan(b.order_value)} × 佣金率 ` +
      `${percentText(rate)}%${range}；退款前的预估` },
    h("span", { class: "label" }, "预期佣金 (30天)"),
    h("span", { class: "expected" }, estimate(b.expected_commission_30d)),
    // each end whole on its line: a narrow card broke "¥1.2万–¥5.4万" inside a figure, "万" alone below
    range && h("span", { class: "range muted" }, h("span", {}, estimate(b.expected_commission_30d_p05)), "–",
      h("span", {}, estimate(b.expected_commission_30d_p95))));
}

/** 库存紧张 on a card whose stock runs out within the week at last week's pace (the product page's 库存预警). */
const lowStockTag = (c) => c.low_stock && h("span", { class: "tag bad-tag low-stock",
  title: `按近7天销量，库存约 ${num(c.days_of_stock, 1)} 天卖完` }, "库存紧张");

function pickCard(pick) {
  const c = pick.product;
  return h("article", { class: "card pick", dataset: { productId: String(c.product_id) } },
    h("div", { class: "card-top" }, h("span", { class: "rank" }, "#" + pick.rank),
      h("span", { class: "tag alt category" }, c.category),
      pick.supported.map((s) => h("span", { class: "tag support" }, SUPPORT[s] || s)),
      pick.on_shelf && h("span", { class: "tag on-shelf", title: "你的直播间已上架这个商品" }, "已在货架"),
      pick.outside && h("span", { class: "tag outside", title: "不在你的主营类目内" }, "拓品类"),
      lowStockTag(c), qualityBadge(c)),
    productLink(c),
    h("div", { class: "money" },
      h("div", {}, h("span", { class: "label" }, "售价"), h("span", { class: "price" }, price(c.price))),
      h("div", {}, h("span", { class: "label" }, "佣金率"), h("span", { class: "rate" }, pct(c.commission_rate, 0))),
      h("div", {}, h("span", { class: "label" }, "每件佣金"),
        h("span", { class: "per-order" }, price(c.commission_per_unit))),
      expectedEarnings(pick)),
    h("ul", { class: "reasons" }, pick.reasons.map((r) => h("li", { dataset: { code: r.code } }, r.text))),
    h("div", { class: "card-foot muted" }, `近7天销量 ${num(c.sales_7d)} · GMV ${yuan(c.gmv_7d)}` +
      (c.brand ? ` · ${c.brand}` : "") + ` · 商品 ID ${c.product_id}`));
}

// ---------------------------------------------------------------------------------------------------------
// 商品搜索: the form mirrors GET /v1/products' parameters; rates are typed as percentages, sent as 0-1

const SEARCH_KEYS = ["q", "category", "price_min", "price_max", "commission_min", "min_sales_7d", "max_refund_rate",
  "passes_gates", "brand", "merchant", "sort", "order", "k", "offset"];
const SORT_NAMES = { relevance: "综合", sales_7d: "近7天销量", gmv_7d: "近7天 GMV", commission_rate: "佣金率",
  commission_per_unit: "每件佣金", price: "价格", growth_7d: "近7天增长" };
const RATE_KEYS = ["commission_min", "max_refund_rate"];
/** A rate as the form shows it: 0.2 -> "20". */
const percentText = (rate) => String(+(Number(rate) * 100).toFixed(4));
/** Growth with its sign, as the cards and the summary print it: +60.7%, -8.2%. */
const signedPct = (x) => (x === null || x === undefined ? "—" : (x > 0 ? "+" : "") + pct(x, 1));

function showSearch(params) {
  const f = {};
  for (const key of SEARCH_KEYS) if (params.get(key)) f[key] = params.get(key);
  const form = $("#goods-form");
  const el = form.elements;
  for (const key of SEARCH_KEYS) {
    if (!el[key]) continue;
    el[key].value = RATE_KEYS.includes(key) && f[key] ? percentText(f[key]) : f[key] || "";
  }
  el.k.value = f.k || "20";
  fillCategorySelect(el.category, f.category);
  loadSearch(f, ticket("goods"));
}

/** The form's values as the API's parameters ("" where empty, so go() leaves them out). */
function searchParams() {
  const el = $("#goods-form").elements;
  const f = {};
  for (const key of SEARCH_KEYS) if (el[key]) f[key] = el[key].value.trim();
  for (const key of RATE_KEYS) if (f[key] !== "") f[key] = String(Number(f[key]) / 100);
  if (f.k === "20") f.k = "";
  return f;
}

function submitSearch() {
  const f = searchParams();
  if (f.price_min !== "" && f.price_max !== "" && Number(f.price_min) > Number(f.price_max)) {
    fill($("#goods-results"), failed("筛选条件有误：最低价不能高于最高价。"));
    return;
  }
  go("search", null, f);
}

async function loadSearch(f, t) {
  const box = $("#goods-results");
  fill(box, loading("商品"));
  let body;
  try {
    body = await api("/v1/products", f);
  } catch (err) {
    if (!current("goods", t)) return;
    fill(box, failed(err.status === 400 ? `筛选条件有误：${paramProblem(err)}` : failureText(err, "商品搜索")));
    return;
  }
  if (!current("goods", t)) return;
  const pg = body.paging;
  const order = body.sort === "relevance" ? "" : body.order === "asc" ? "，从低到高" : "，从高到低";
  const summary = h("p", { class: "muted", id: "goods-summary" },
    `找到 ${num(body.total)} 个商品` + (body.query ? `（关键词“${body.query}”）` : "") +
    `，按${SORT_NAMES[body.sort] || body.sort}${order}` +
    (body.items.length ? `，第 ${pg.offset + 1}–${pg.offset + body.items.length} 个` : ""));
  if (!body.items.length) {
    fill(box, summary, empty(pg.offset > 0 ? "没有更多商品了。" : "没有找到符合条件的商品，请换个关键词或放宽筛选条件。"),
      searchPager(f, pg, 0, body.total));
    return;
  }
  fill(box, h("div", { class: "list-head" }, summary, csvLink("/v1/products", f)),
    h("div", { class: "cards" }, body.items.map(hitCard)), searchPager(f, pg, body.items.length, body.total));
}

function searchPager(f, pg, shown, total) {  // total: every match (the search's paging has no candidates)
  return pagerNav({ ...pg, candidates: total }, (offset) => go("search", null, { ...f, offset: offsetParam(offset) }),
    null, shown);
}

function hitCard(hit) {
  const c = hit.product;
  const growth = hit.growth_7d > 0 ? "up" : hit.growth_7d < 0 ? "down" : "flat";
  return h("article", { class: "card hit", dataset: { productId: String(c.product_id) } },
    h("div", { class: "card-top" }, h("span", { class: "rank" }, "#" + hit.rank),
      h("span", { class: "tag alt category" }, c.category),
      !hit.passes_gates && h("span", { class: "tag bad-tag gated", title: "主播选品与榜单不会推荐这个商品" }, "未通过质量门槛"),
      lowStockTag(c), qualityBadge(c, hit.passes_gates)),
    productLink(c),
    h("div", { class: "money" },
      h("div", {}, h("span", { class: "label" }, "售价"), h("span", { class: "price" }, price(c.price))),
      h("div", {}, h("span", { class: "label" }, "佣金率"), h("span", { class: "rate" }, pct(c.commission_rate, 0))),
      h("div", {}, h("span", { class: "label" }, "每件佣金"),
        h("span", { class: "per-order" }, price(c.commission_per_unit))),
      h("div", { title: `近7天 ${num(hit.orders_7d)} 单，此前周均 ${num(hit.baseline_orders_7d, 1)} 单` },
        h("span", { class: "label" }, "近7天增长"), h("span", { class: "growth " + growth }, signedPct(hit.growth_7d)))),
    h("div", { class: "hit-stats" },
      h("span", {}, "近7天销量 ", h("b", { class: "sales" }, num(c.sales_7d))),
      h("span", {}, "GMV ", h("b", { class: "gmv" }, yuan(c.gmv_7d))),
      h("span", {}, "订单 ", h("b", { class: "orders" }, num(hit.orders_7d)))),
    h("div", { class: "card-foot muted" }, (c.brand ? `品牌 ${c.brand} · ` : "") +
      `${c.merchant_name ? "店铺 " + c.merchant_name : "商家 " + c.merchant_id} · 商品 ID ${c.product_id}`));
}

// ---------------------------------------------------------------------------------------------------------
// 商品详情

const GATE_NAMES = { refund_rate: "退款率", shop_rating: "店铺评分", merchant_violations: "商家违规次数", stock: "库存" };
/** A gate failure as the API words it ("refund_rate 0.210 > 0.15", "stock invalid in the export (...)") with the
 * measure named in Chinese. */
const gateText = (failure) => failure === "out of stock" ? "无库存" : failure === "created after the snapshot" ?
  "数据截止时尚未上架" : / invalid in the export/.test(failure) ?
    failure.replace(/^(\w+) .*$/, (_, code) => `${GATE_NAMES[code] || code}的导出值无效`) :
    failure.replace(/^(\w+)/, (code) => GATE_NAMES[code] || code);

const WINDOW_NAMES = { "1d": "近1天", "7d": "近7天", "30d": "近30天" };

async function showProduct(id, params) {
  const box = $("#product-body");
  if (!id) { fill(box, h("p", { class: "hint" }, "输入商品 ID，或在选品卡片、榜单中点击商品标题。")); return; }
  $("#product-q").value = id;
  const t = ticket("product");
  fill(box, loading("商品"));
  let d;
  try {
    d = await api(`/v1/products/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!current("product", t)) return;
    fill(box, err.status === 404 ? failed(`未找到商品“${id}”，请检查商品 ID。`) : failed(failureText(err, "商品")));
    return;
  }
  if (!current("product", t)) return;
  const c = d.product;
  const q = d.quality || {};
  const pr = d.promotion;
  fill(box,
    h("div", { class: "panel product" },
      h("div", { class: "profile-head" }, h("h1", { id: "product-title" }, c.title),
        h("span", { class: "tag alt" }, c.category), qualityBadge(c, q.passes_gates),
        q.passes_gates ? h("span", { class: "tag ok-tag" }, "通过质量门槛") :
          h("span", { class: "tag bad-tag", title: (q.failures || []).join("; ") },
            "未通过质量门槛：" + (q.failures || []).map(gateText).join("；"))),
      h("p", { class: "muted" }, `商品 ID ${c.product_id}` + (c.brand ? ` · 品牌 ${c.brand}` : "") +
        ` · 上架 ${day(d.created_at)} · 库存 ${num(c.stock)}`),
      shopLine(d.shop),
      stockWarning(d.stock),
      h("div", { class: "kpis" }, kpi("售价", price(c.price)), kpi("佣金率", pct(c.commission_rate)),
        kpi("每件佣金", price(c.commission_per_unit)), kpi("近7天销量", num(c.sales_7d)))),
    h("div", { class: "panel", id: "trend-panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "近30天销售趋势"), h("span", { class: "muted", id: "trend-note" })),
      h("div", { id: "trend" }, loading("销售趋势"))),
    h("div", { class: "panel", id: "sellers-panel" },
      h("div", { class: "panel-head" }, h("h2", { id: "sellers-heading" }, "带货主播（近30天）"),
        h("form", { class: "inline-form", id: "sellers-form" },
          h("label", {}, "排序 ", h("select", { name: "sort" },
            Object.entries(SELLER_SORTS).map(([value, label]) => h("option", { value }, label)))))),
      h("div", { id: "sellers" }, loading("带货主播"))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, "销售数据"),
        h("p", { class: "muted", id: "window-stats-note" }, "按截至数据末的滚动窗口计（近30天 = 720 小时；上方趋势图按" +
          `北京时间自然日计，合计可能略有出入）。类目榜：在${c.category}销量榜上的名次`),
        h("div", { class: "table-scroll" }, h("table", { class: "table", id: "window-stats" },
          h("thead", {}, h("tr", {}, ["周期", "销量", "GMV", "订单", "带货主播", "类目榜"]
            .map((x) => h("th", {}, x)))),
          h("tbody", {}, ["1d", "7d", "30d"].filter((w) => d.windows[w]).map((w) => {
            const s = d.windows[w];
            return h("tr", { dataset: { window: w } }, h("td", { class: "nw" }, WINDOW_NAMES[w]),
              h("td", { class: "nw" }, num(s.sales)), h("td", { class: "nw" }, yuan(s.gmv)),
              h("td", { class: "nw" }, num(s.orders)), h("td", { class: "nw" }, num(s.anchors)),
              h("td", { class: "nw rank-cell" }, s.board_rank ? `第 ${s.board_rank} 名` : "未上榜"));
          }))))),
      h("div", { class: "panel" }, h("h2", {}, "推广数据"),
        h("div", { class: "kpis small" }, kpi("上架主播", num(pr.shelf_anchors)),
          kpi("近30天带货主播", num(pr.selling_anchors_30d)),
          kpi("主播出单率（30天）", pct(pr.anchor_conversion_30d, 1), "近30天带货主播 ÷ 上架主播"),
          kpi("近30天直播 GMV", yuan(pr.gmv_30d)),
          kpi("近30天买家", num(pr.buyers_30d)), kpi("近30天退款占比", pct(pr.refund_share_30d, 1)),
          ...(pr.clicks_30d == null ? [] : [kpi("近30天点击", num(pr.clicks_30d))])))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, "适合带货的主播（达人广场）"),
        h("form", { id: "square-filters", class: "filters square-filters" }), h("div", { id: "fit-anchors" }, loading("主播"))),
      h("div", { class: "panel" }, h("h2", {}, "相似商品"), h("div", { id: "similar" }, loading("相似商品")))));
  $("#sellers-form").elements.sort.value = SELLER_SORTS[params.get("sort")] ? params.get("sort") : "gmv";
  $("#sellers-form").addEventListener("change", (ev) => {
    remember(paramsWith({ sort: ev.target.value === "gmv" ? "" : ev.target.value, sellers_offset: "" }));
    loadSellers(id, 0, t);
  });
  loadTrend(id, t);
  loadSellers(id, Number(params.get("sellers_offset") || 0), t);
  const square = squareFrom(params);
  renderSquareFilters(id, square);
  loadFitAnchors(id, Number(params.get("offset") || 0), t, square);
  loadSimilar(id, t);
}

/** The shop behind the good: its name, 小店星级, 30-day GMV and violations (each "—" where the data lacks it). */
function shopLine(shop) {
  const name = shop.merchant_name || `商家 ${shop.merchant_id}`;
  const violations = shop.merchant_violations;
  return h("p", { class: "shop-line", id: "shop-line" },
    h("span", { class: "shop-name" }, "店铺 " + name),
    h("span", {}, "小店星级 " + (shop.shop_rating === null ? "—" : num(shop.shop_rating, 1))),
    h("span", {}, "店铺近30天 GMV " + yuan(shop.merchant_gmv_30d)),
    h("span", { class: violations ? "bad-text" : null },
      "违规 " + (violations === null || violations === undefined ? "—" : num(violations) + " 次")));
}

/** The low-stock line: stock below the last 7 days' sales runs out within a week at that pace. */
function stockWarning(st) {
  if (!st || !st.low_stock) return null;
  if (st.stock === 0) {  // sold out: "约 0.0 天售罄" would read as a forecast
    return h("p", { class: "stock-warning", id: "stock-warning", role: "status" },
      `库存预警：已售罄（近7天销量 ${num(st.sales_7d)} 件）。`);
  }
  const left = st.days_of_stock === null ? "" : `，按近7天的速度约 ${num(st.days_of_stock, 1)} 天售罄`;
  return h("p", { class: "stock-warning", id: "stock-warning", role: "status" },
    `库存预警：库存 ${num(st.stock)} 件，低于近7天销量 ${num(st.sales_7d)} 件${left}。`);
}

let trendChart = null;
window.addEventListener("resize", () => { if (trendChart) trendChart.resize(); });

async function loadTrend(id, t) {
  const box = $("#trend");
  let body;
  try {
    body = await api(`/v1/products/${encodeURIComponent(id)}/trend`);
  } catch (err) {
    if (!current("product", t)) return;
    fill(box, failed(err.code === "no_evidence" ? "当前模型没有逐日销售数据，重新训练后可见。" :
      failureText(err, "销售趋势")));
    return;
  }
  if (!current("product", t)) return;
  const asOf = String(body.as_of).slice(0, 16).replace("T", " ");
  $("#trend-note").textContent = `北京时间 · 截至 ${asOf} · 30天共\u00a0${num(body.totals.sales)}\u00a0件，GMV\u00a0${yuan(body.totals.gmv)}`;
  if (typeof echarts === "undefined") { fill(box, failed("图表组件未能加载。")); return; }
  const el = h("div", { class: "trend-chart", id: "trend-chart", role: "img",
    "aria-label": `近30天每日销量与 GMV，${body.days[0].date} 至 ${body.days[body.days.length - 1].date}` });
  fill(box, el);
  if (trendChart) trendChart.dispose();
  trendChart = echarts.init(el, null, { renderer: "canvas" });
  const narrow = el.clientWidth < 600;
  trendChart.setOption({
    animation: false,
    color: ["#ff4906", "#1f5fbf"],
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    legend: { top: 0, data: ["销量（件）", "GMV（元）"] },
    // richText: the tooltip is drawn on the canvas, so the page's CSP (no inline styles) holds
    tooltip: { trigger: "axis", renderMode: "richText",
      formatter: (items) => [items[0].axisValue + "（北京时间）",
        ...items.map((it) => `${it.seriesName}：${it.seriesIndex === 1 ? yuan(it.value) : num(it.value)}`)].join("\n") },
    xAxis: { type: "category", data: body.days.map((d) => d.date),
      axisLabel: { formatter: (v) => v.slice(5), interval: narrow ? 6 : 2 } },
    yAxis: [{ type: "value", name: "件", minInterval: 1, axisLabel: { formatter: (v) => num(v) } },
      { type: "value", name: "元", axisLabel: { formatter: (v) => yuan(v) }, splitLine: { show: false } }],
    series: [
      { name: "销量（件）", type: "bar", data: body.days.map((d) => d.sales), barMaxWidth: 14 },
      { name: "GMV（元）", type: "line", yAxisIndex: 1, data: body.days.map((d) => d.gmv), symbolSize: 4 },
    ],
  });
}

const SELLER_SORTS = { gmv: "GMV", orders: "订单数", sales: "销量", conversion: "粉丝转化率", fans: "粉丝数" };
const SELLERS_PAGE = 10;

async function loadSellers(id, offset, t) {
  const box = $("#sellers");
  const sort = $("#sellers-form").elements.sort.value;
  let body;
  try {
    body = await api(`/v1/products/${encodeURIComponent(id)}/sellers`, { k: SELLERS_PAGE, offset: offset || "", sort });
  } catch (err) {
    if (!current("product", t)) return;
    fill(box, failed(err.code === "no_evidence" ? "当前模型没有带货主播数据，重新训练后可见。" :
      failureText(err, "带货主播")));
    return;
  }
  if (!current("product", t)) return;
  $("#sellers-heading").textContent = `带货主播（近30天，按${SELLER_SORTS[body.sort] || SELLER_SORTS[sort]}）`;
  const pg = body.paging;
  if (!body.items.length) {  // past the end (an old link) says so and offers the way back
    fill(box, pg.offset > 0 && pg.candidates > 0 ? [empty("没有更多带货主播了。"),
      pagerNav(pg, (offset) => sellersPage(id, offset, t), null, 0)] : empty("近30天没有主播带货这个商品。"));
    return;
  }
  const kept = body.sellers_total > body.kept ? `（列出 GMV 最高的 ${num(body.kept)} 位）` : "";
  fill(box,
    h("div", { class: "list-head" }, h("p", { class: "muted", id: "sellers-summary" },
      `${body.window.first_day} 至 ${body.window.last_day}（北京时间）共 ${num(body.sellers_total)} 位主播带货${kept}。` +
      "转化率 = 买过它的粉丝 ÷ 粉丝数"),
      csvLink(`/v1/products/${encodeURIComponent(id)}/sellers`, { k: SELLERS_PAGE, offset: offset || "", sort })),
    h("div", { class: "table-scroll" }, h("table", { class: "table", id: "sellers-table" },
      h("thead", {}, h("tr", {}, ["#", "主播", "粉丝", "订单", "销量", "GMV", "粉丝转化率"].map((x) => h("th", {}, x)))),
      h("tbody", {}, body.items.map((it) => h("tr", { dataset: { anchorId: String(it.anchor.anchor_id) } },
        h("td", { class: "rank" }, it.rank), h("td", { class: "nw name" }, anchorLink(it.anchor)),
        h("td", { class: "nw fans" }, num(it.anchor.fans)), h("td", { class: "nw orders" }, num(it.orders)),
        h("td", { class: "nw sales" }, num(it.sales)), h("td", { class: "nw gmv" }, yuan(it.gmv)),
        h("td", { class: "nw conversion" }, pct(it.conversion, 1))))))),
    pagerNav(pg, (offset) => sellersPage(id, offset, t), null, body.items.length));
}

function sellersPage(id, offset, t) {
  remember(paramsWith({ sellers_offset: offset ? String(offset) : "" }));
  loadSellers(id, offset, t);
}

// 达人广场 filters: their names are the route's query parameters, kept in the URL hash of the product view
const SQUARE_KEYS = ["tier", "min_fans", "max_fans", "gender", "gender_share_min", "age_band", "age_share_min", "region",
  "region_share_min", "audience_price_min", "audience_price_max", "category_gmv_min", "new"];
function squareFrom(params) {
  const f = {};
  for (const key of SQUARE_KEYS) if (params.get(key)) f[key] = params.get(key);
  const word = (f.new || "").toLowerCase();
  if (TRUE_WORDS.includes(word)) f.new = "true";
  else if (FALSE_WORDS.includes(word)) delete f.new;  // an unknown word stays: the API's 400 names it
  return f;
}

// The served model's description (GET /v1/model), fetched once: the labels the filters offer, the snapshot's time
let modelPromise = null;
function modelInfo() {
  if (!modelPromise) modelPromise = api("/v1/model").catch((err) => { modelPromise = null; throw err; });
  return modelPromise;
}
const anchorLabels = () => modelInfo().then((b) => b.anchor_labels || {});
/** When the model's data ends (its snapshot, UTC as the manifest writes it), or null. */
const snapshotAsOf = (m) => (m && m.data && m.data.snapshot_time ? m.data.snapshot_time.replace(" ", "T") + "Z" : null);
/** A board's answer with the snapshot's time beside it: the sales boards count the data, not the wall clock. */
const withAsOf = (load) => () => Promise.all([load(), modelInfo().catch(() => null)])
  .then(([body, m]) => ({ ...body, as_of: snapshotAsOf(m) }));
const dataAsOf = (body) => (body.as_of ? `数据截至 ${when(body.as_of)}` : null);

async function fillLabelSelect(select, dim, selected, anyText) {
  try {
    const labels = (await anchorLabels())[dim] || [];
    select.replaceChildren(h("option", { value: "" }, anyText), ...labels.map((x) => h("option", { value: x }, x)));
  } catch (err) { /* the select keeps 不限; the list says why it failed */ }
  select.value = selected || "";
}

const sharePct = (x) => (x ? String(+(Number(x) * 100).toFixed(4)) : "");
const shareOf = (text) => (text.trim() === "" ? "" : String(Number(text) / 100));

function renderSquareFilters(id, f) {
  const form = $("#square-filters");
  const share = (name, placeholder) => h("input", { name, type: "number", min: "0", max: "100", step: "any",
    placeholder, value: sharePct(f[name]), class: "short" });
  const number = (name, placeholder, step = "any") => h("input", { name, type: "number", min: "0", step, placeholder,
    value: f[name] || "", class: "short" });
  fill(form,
    h("label", {}, "层级 ", h("select", { name: "tier" }, h("option", { value: "" }, "不限"))),
    h("label", {}, "粉丝 ", number("min_fans", "最少", "1"), " – ", number("max_fans", "最多", "1")),
    h("label", {}, "性别 ", h("select", { name: "gender" }, h("option", { value: "" }, "不限")), " ≥ ",
      share("gender_share_min", "50"), "%"),
    h("label", {}, "年龄 ", h("select", { name: "age_band" }, h("option", { value: "" }, "不限")), " ≥ ",
      share("age_share_min", "20"), "%"),
    h("label", {}, "地域 ", h("select", { name: "region" }, h("option", { value: "" }, "不限")), " ≥ ",
      share("region_share_min", "10"), "%"),
    h("label", {}, "粉丝客单价 ¥", number("audience_price_min", "最低"), " – ", number("audience_price_max", "最高")),
    h("label", {}, "类目 GMV ≥ ¥", number("category_gmv_min", "30天")),
    h("label", { class: "check" }, h("input", { name: "new", type: "checkbox", checked: f.new === "true" }), "只看新人主播"),
    h("button", { type: "submit" }, "筛选主播"),
    h("button", { type: "button", class: "secondary", onclick: () => go("product", id) }, "重置"));
  fillLabelSelect(form.elements.tier, "tier", f.tier, "不限");
  fillLabelSelect(form.elements.gender, "gender", f.gender, "不限");
  fillLabelSelect(form.elements.age_band, "age_band", f.age_band, "不限");
  fillLabelSelect(form.elements.region, "region", f.region, "不限");
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const el = form.elements;
    const v = (name) => el[name].value.trim();
    const reversed = (low, high) => v(low) !== "" && v(high) !== "" && Number(v(low)) > Number(v(high));
    if (reversed("min_fans", "max_fans") || reversed("audience_price_min", "audience_price_max")) {
      fill($("#fit-anchors"), failed(reversed("min_fans", "max_fans")
        ? "筛选条件有误：最少粉丝数不能高于最多粉丝数。" : "筛选条件有误：粉丝客单价的最低值不能高于最高值。"));
      return;
    }
    go("product", id, {
      tier: v("tier"), min_fans: v("min_fans"), max_fans: v("max_fans"),
      gender: v("gender"), gender_share_min: shareOf(v("gender_share_min")),
      age_band: v("age_band"), age_share_min: shareOf(v("age_share_min")),
      region: v("region"), region_share_min: shareOf(v("region_share_min")),
      audience_price_min: v("audience_price_min"), audience_price_max: v("audience_price_max"),
      category_gmv_min: v("category_gmv_min"), new: el.new.checked ? "true" : "",
    });
  };
}

/** 达人广场 for a gated good: the merchant may fix it, so it is said first, whatever the list holds. */
const gatedNotice = (body) => body.quality && body.quality.passes_gates === false &&
  h("p", { class: "notice gated-notice" }, `这个商品未通过质量门槛（${(body.quality.failures || []).map(gateText).join("；")}），` +
    "主播在选品中心看不到它" + (body.items.length ? "；下列主播是它通过门槛后最适合的。" : "。"));

async function loadFitAnchors(id, offset, t, square) {
  const box = $("#fit-anchors");
  let body;
  try {
    body = await api(`/v1/products/${encodeURIComponent(id)}/anchors`, { k: 10, offset: offset || "", ...square });
  } catch (err) {
    if (!current("product", t)) return;
    fill(box, failed(err.status === 400 ? `筛选条件有误：${paramProblem(err)}` : failureText(err, "主播")));
    return;
  }
  if (!current("product", t)) return;
  const pg = body.paging;
  if (!body.items.length) {
    if (pg.offset > 0) {  // past the end (an old link): say so and offer the way back
      fill(box, gatedNotice(body), empty("没有更多主播了。"),
        pagerNav(pg, (offset) => fitAnchorsPage(id, offset, t, square), null, 0));
      return;
    }
    fill(box, gatedNotice(body),
      empty(Object.keys(square || {}).length ? "没有符合筛选条件的主播，请放宽筛选条件。" : "暂无合适的主播。"));
    return;
  }
  fill(box, gatedNotice(body),
    h("div", { class: "list-head" }, h("span", { class: "muted" }, `第 ${pg.offset + 1}–${pg.offset + body.items.length} 位`),
      csvLink(`/v1/products/${encodeURIComponent(id)}/anchors`, { k: 10, offset: offset || "", ...square })),
    h("div", { class: "table-scroll" }, h("table", { class: "table fit-anchors" },
      h("thead", {}, h("tr", {}, ["#", "主播", "层级", "粉丝", "粉丝画像", "理由"].map((x) => h("th", {}, x)))),
      h("tbody", {}, body.items.map((m) => h("tr", { class: "fit-anchor" },
        h("td", { class: "rank" }, m.rank),
        h("td", { class: "name" }, anchorLink(m.anchor), m.new_anchor && h("span", { class: "tag new-anchor" }, "新人主播"),
          m.on_shelf && h("span", { class: "tag on-shelf", title: "TA的直播间已上架这个商品（上架不等于已卖出）" }, "已在货架")),
        h("td", { class: "nw tier" }, m.anchor.tier || "—"), h("td", { class: "nw fans" }, num(m.anchor.fans)),
        h("td", { class: "audience-line" }, m.audience ? m.audience.text : "—"),
        h("td", { class: "reasons-cell" }, m.reasons.map((r) => h("div", {}, r.text)))))))),
    pagerNav(pg, (offset) => fitAnchorsPage(id, offset, t, square),
      h("span", { class: "muted", id: "fit-anchors-total" }, `共 ${num(pg.candidates)} 位候选主播`), body.items.length));
}

function fitAnchorsPage(id, offset, t, square) {
  remember(paramsWith({ offset: offset ? String(offset) : "" }));
  loadFitAnchors(id, offset, t, square);
}

async function loadSimilar(id, t) {
  const box = $("#similar");
  let body;
  try {
    body = await api(`/v1/products/${encodeURIComponent(id)}/similar`, { k: 8 });
  } catch (err) {
    if (current("product", t)) fill(box, failed(failureText(err, "相似商品")));
    return;
  }
  if (!current("product", t)) return;
  if (!body.items.length) { fill(box, empty("暂无相似商品。")); return; }
  fill(box, h("div", { class: "list-head" }, h("span", { class: "muted" }, `${body.items.length} 个相似商品`),
    csvLink(`/v1/products/${encodeURIComponent(id)}/similar`, { k: 8 })),
  h("ul", { class: "mini-list" }, body.items.map((it) => h("li", {},
    productLink(it.product),
    h("span", { class: "muted" }, ` ${it.product.category} · ${price(it.product.price)} · 佣金 ` +
      `${pct(it.product.commission_rate)} · 相似度 ${pct(it.similarity)}`)))));
}

// ---------------------------------------------------------------------------------------------------------
// 榜单

function showBoards(params) {
  const top = $("#top-form");
  const hot = $("#hot-form");
  top.elements.window.value = ["1d", "7d", "30d"].includes(params.get("window")) ? params.get("window") : "7d";
  fillCategorySelect(top.elements.category, params.get("category"));
  fillCategorySelect(hot.elements.category, params.get("hot_category"));
  loadTop(top.elements.window.value, params.get("category") || "");
  loadHot(params.get("hot_category") || "");
}

function boardParams() {
  const top = $("#top-form").elements;
  return { window: top.window.value, category: top.category.value, hot_category: $("#hot-form").elements.category.value };
}

async function loadTop(window, category) {
  const box = $("#top-list");
  const t = ticket("top");
  fill(box, loading("销量榜"));
  let body;
  try {
    body = await withAsOf(() => api("/v1/rankings/top-sales", { window, category, k: 20 }))();
  } catch (err) {
    if (current("top", t)) fill(box, failed(failureText(err, "销量榜")));
    return;
  }
  if (!current("top", t)) return;
  if (!body.items.length) { fill(box, empty("该类目暂无上榜商品。")); return; }
  fill(box, h("div", { class: "list-head" }, h("span", { class: "muted", id: "top-summary" },
    [`前 ${body.items.length} 名`, dataAsOf(body)].filter(Boolean).join(" · ")),
    csvLink("/v1/rankings/top-sales", { window, category, k: 20 })),
  h("div", { class: "scroll" }, h("table", { class: "table board top-board" },
    h("thead", {}, h("tr", {}, ["名次", "商品", "类目", "售价", `${WINDOW_NAMES[body.window]}销量`, "GMV"]
      .map((x) => h("th", {}, x)))),
    h("tbody", {}, body.items.map((it) => h("tr", {},
      h("td", { class: "rank" }, it.rank), h("td", { class: "product" }, productLink(it.product)),
      h("td", { class: "nw category" }, it.product.category), h("td", { class: "nw price" }, price(it.product.price)),
      // data-label: at phone width a row is a card and each figure says what it is (styles: .top-board)
      h("td", { class: "nw sales", dataset: { label: "销量" } }, num(it.sales)),
      h("td", { class: "nw gmv", dataset: { label: "GMV" } }, yuan(it.gmv))))))));
}

async function loadHot(category) {
  const box = $("#hot-list");
  const t = ticket("hot");
  fill(box, loading("爆款榜"));
  let body;
  try {
    body = await api("/v1/rankings/hot", { k: 20, category });
  } catch (err) {
    if (!current("hot", t)) return;
    const unavailable = (err.status === 404 && !err.field) || err.status === 503;
    fill(box, failed(unavailable ? "爆款榜暂不可用：服务尚未提供实时爆款数据。" : failureText(err, "爆款榜")));
    return;
  }
  if (!current("hot", t)) return;
  const meta = h("p", { class: "muted" },
    `统计窗口 近${num(body.window_minutes)}分钟` + (body.as_of ? ` · 截至 ${when(body.as_of)}` : "") +
    (body.category ? ` · ${body.category}` : ""),
    body.stale ? h("span", { class: "tag bad-tag", title: body.error || "" }, "数据可能已过时") : null);
  if (!body.items || !body.items.length) {
    fill(box, meta, empty(body.warming_up ? warmingText(body) : "暂无爆款"));
    return;
  }
  // live counts from the order stream (the card's 近7天销量 is the model snapshot's: 0 for a good that started
  // selling today); the burst's ratio is in its reason, said with the figures it is computed from
  fill(box, h("div", { class: "list-head" }, meta, csvLink("/v1/rankings/hot", { k: 20, category })),
    h("div", { class: "scroll" }, h("table", { class: "table board hot-board" },
      h("thead", {}, h("tr", {}, ["名次", "商品", `近${num(body.window_minutes)}分钟`, "近24小时", "近7天（实时订单）", "理由"]
        .map((x) => h("th", {}, x)))),
      h("tbody", {}, body.items.map((it) => h("tr", {},
        h("td", { class: "rank" }, it.rank),
        h("td", { class: "product" }, productLink(it.product),
          h("div", { class: "muted" }, `${it.product.category} · ${price(it.product.price)}`)),
        h("td", { class: "nw recent", dataset: { label: `近${num(body.window_minutes)}分钟` } }, num(it.recent_orders)),
        h("td", { class: "nw day", dataset: { label: "近24小时" } }, num(it.orders_24h)),
        h("td", { class: "nw week", dataset: { label: "近7天" } }, num(it.orders_7d)),
        h("td", { class: "reasons-cell" }, (it.reasons || []).map((r) => h("div", {}, r.text)))))))));
}

// ---------------------------------------------------------------------------------------------------------
// 达人榜: GET /v1/rankings/anchors, the form and the category tabs kept in the URL hash

const METRIC_NAMES = { gmv: "GMV", orders: "订单" };
/** The options a 400 lists, in the page's words (the API's codes beside them). */
const OPTION_NAMES = { ...WINDOW_NAMES, ...SELLER_SORTS, ...METRIC_NAMES, ...SORT_NAMES, asc: "从低到高",
  desc: "从高到低" };

function anchorBoardParams(overrides) {
  const el = $("#anchor-board-form").elements;
  const active = $("#anchor-board-tabs button[aria-pressed='true']");
  return { window: el.window.value, metric: el.metric.value, tier: el.tier.value, new: el.new.checked ? "true" : "",
    category: active ? active.dataset.category : "", ...overrides };
}

async function showAnchorBoard(params) {
  const el = $("#anchor-board-form").elements;
  el.window.value = ["1d", "7d", "30d"].includes(params.get("window")) ? params.get("window") : "7d";
  el.metric.value = params.get("metric") === "orders" ? "orders" : "gmv";
  el.new.checked = params.get("new") === "true";
  fillLabelSelect(el.tier, "tier", params.get("tier"), "全部层级");
  const category = params.get("category") || "";
  const tabs = $("#anchor-board-tabs");
  const tab = (value, text) => h("button", { type: "button", "aria-pressed": String(value === category),
    dataset: { category: value }, onclick: () => go("anchors", null, anchorBoardParams({ category: value, offset: "" })) },
  text);
  let cats = [];
  try { cats = await categories(); } catch (err) { /* 全部 only; the list says why it failed */ }
  fill(tabs, tab("", "全部"), cats.map((c) => tab(c, c)));
  loadAnchorBoard({ window: el.window.value, metric: el.metric.value, category, tier: params.get("tier") || "",
    new: el.new.checked ? "true" : "", offset: params.get("offset") || "" });
}

async function loadAnchorBoard(q) {
  const box = $("#anchor-board");
  const t = ticket("anchor-board");
  $("#anchor-board-title").textContent = q.new ? "新人主播榜" : "达人带货榜";
  fill(box, loading("达人榜"));
  let body;
  try {
    body = await withAsOf(() => api("/v1/rankings/anchors", { ...q, k: 20 }))();
  } catch (err) {
    if (!current("anchor-board", t)) return;
    fill(box, failed(err.status === 503 && err.code === "not_available" ? "达人榜暂不可用：当前模型没有达人榜数据，请重新训练。"
      : failureText(err, "达人榜")));
    return;
  }
  if (!current("anchor-board", t)) return;
  const pg = body.paging;
  const win = WINDOW_NAMES[body.window];
  const meta = h("p", { class: "muted", id: "anchor-board-summary" },
    [`${win} · ${body.category || "全部类目"} · 按${METRIC_NAMES[body.metric]}排序 · 共 ${num(pg.candidates)} 位主播上榜`,
      dataAsOf(body)].filter(Boolean).join(" · "));
  const boardPager = (p, shown) => pagerNav(p, (offset) => go("anchors", null, anchorBoardParams({ offset: offsetParam(offset) })),
    null, shown);
  if (!body.items.length) {  // past the end (an old link) says so and offers the way back
    fill(box, meta, pg.offset > 0 ? [empty("没有更多上榜主播了。"), boardPager(pg, 0)]
      : empty(body.new ? "暂无上榜的新人主播。" : "该条件下暂无上榜主播。"));
    return;
  }
  fill(box, h("div", { class: "list-head" }, meta, csvLink("/v1/rankings/anchors", { ...q, k: 20 })),
    h("div", { class: "table-scroll" }, h("table", { class: "table board anchor-board" },
      h("thead", {}, h("tr", {}, ["名次", "主播", `${win}GMV`, "订单", "粉丝", "粉丝画像"].map((x) => h("th", {}, x)))),
      h("tbody", {}, body.items.map((it) => h("tr", { class: "board-anchor" },
        h("td", { class: "rank" }, it.rank),
        h("td", { class: "name" }, anchorLink(it.anchor), it.new_anchor && h("span", { class: "tag new-anchor" }, "新人主播"),
          h("div", { class: "muted col-main" }, [it.anchor.tier, it.anchor.main_category].filter(Boolean).join(" · "))),
        h("td", { class: "nw gmv" }, yuan(it.gmv)), h("td", { class: "nw orders" }, num(it.orders)),
        h("td", { class: "nw fans" }, num(it.fans)),
        h("td", { class: "audience-line" }, it.audience.text || "—")))))),
    boardPager(pg, body.items.length));
}

// ---------------------------------------------------------------------------------------------------------
// Wiring

document.addEventListener("DOMContentLoaded", () => {
  $("#home-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("#home-q").value.trim();
    if (q) go("home", null, { q }); else fill($("#home-results"), empty("请输入主播昵称、ID 或商品关键词。"));
  });
  $("#anchor-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    searchAnchors($("#anchor-q").value);
  });
  $("#product-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("#product-q").value.trim();
    if (id) go("product", id); else fill($("#product-body"), empty("请输入商品 ID。"));
  });
  $("#goods-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitSearch();
  });
  $("#goods-form").elements.sort.addEventListener("change", submitSearch);
  $("#goods-form").elements.order.addEventListener("change", submitSearch);
  $("#goods-reset").addEventListener("click", () => go("search", null, {}));
  $("#top-form").addEventListener("change", () => go("boards", null, boardParams()));
  $("#hot-form").addEventListener("change", () => go("boards", null, boardParams()));
  $("#anchor-board-form").addEventListener("change", () => go("anchors", null, anchorBoardParams({ offset: "" })));
  $("#hot-refresh").addEventListener("click", () => loadHot($("#hot-form").elements.category.value));
  window.addEventListener("hashchange", route);
  loadGates().finally(route);
});
