// Shuffify's web app: plain JavaScript, no build step, served from the
// binary. Routes are fragments (#/playlists/ID). The bearer token lives in
// sessionStorage; user content is always written as text, never as HTML.

const view = document.getElementById("view");
const TOKEN_KEY = "shuffify.token";
const USER_KEY = "shuffify.user";

// ---------------------------------------------------------------- helpers

/** An element: h("button", {class: "x", onclick: f}, "text", child, ...) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

/** The fragment route's parts and query: "#/settings?spotify_error=x". */
function hashRoute() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/"), query: new URLSearchParams(query) };
}
const token = () => sessionStorage.getItem(TOKEN_KEY);

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code;
    this.details = error.details || [];
  }
}

/** Calls the API; throws ApiError with the API's JSON error body. */
async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  // A 401 with `WWW-Authenticate` means the token is dead; one without it
  // (a wrong password given to confirm an action) leaves the session be.
  if (res.status === 401 && res.headers.has("WWW-Authenticate") && path !== "/api/auth/login") {
    forgetSession();
    location.hash = "#/signin";
  }
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** What to do next after an error, in words. */
function advice(err) {
  switch (err.status) {
    case 409: return " Nothing was changed.";
    case 412: return " Someone (or a schedule) changed this playlist since you loaded it. Reload it, then try again.";
    case 429: return " Wait a moment and try again.";
    default: return "";
  }
}

/** Shows an API error in a form: each field's message next to its input,
 *  the rest at the top of the form. */
function showError(form, err, onReload) {
  form.querySelectorAll(".form-error, .field-error").forEach((e) => e.remove());
  if (!(err instanceof ApiError)) {
    form.prepend(h("p", { class: "form-error", role: "alert" }, String(err.message || err)));
    return;
  }
  const general = [];
  for (const detail of err.details) {
    const name = String(detail.field).split(/[.[]/)[0];
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input && err.status === 400) {
      input.setAttribute("aria-invalid", "true");
      input.closest("label")?.after(h("p", { class: "field-error", role: "alert" }, `${detail.field}: ${detail.message}`));
    } else {
      general.push(`${detail.field}: ${detail.message}`);
    }
  }
  if (general.length || !err.details.length) {
    const box = h("div", { class: "form-error", role: "alert" },
      h("p", {}, err.message + advice(err)),
      general.length ? h("ul", {}, general.map((g) => h("li", {}, g))) : null,
      err.status === 412 && onReload ? h("button", { type: "button", class: "secondary", onclick: onReload }, "Reload the playlist") : null);
    form.prepend(box);
  }
}

function clearErrors(form) {
  form.querySelectorAll(".form-error, .field-error").forEach((e) => e.remove());
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

/** A form whose submit runs `action(data)`; errors are shown in it. */
function form(attrs, children, action) {
  const el = h("form", { ...attrs, novalidate: true }, children);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(el);
    const button = el.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await action(new FormData(el), el);
    } catch (err) {
      showError(el, err, attrs.onreload);
    } finally {
      // A button at its cap (see applyCap) stays disabled.
      if (button) button.disabled = button.hasAttribute("data-capped");
    }
  });
  return el;
}

const field = (label, input) => h("label", {}, label, input);
const text = (name, attrs = {}) => h("input", { type: "text", name, ...attrs });

// ---------------------------------------------------------------- caps

/** The server's caps on what an account or a playlist keeps: a create
 *  button at its cap is disabled, with the reason beside it. */
const CAPS = {
  playlists: { max: 500, reason: "You have 500 playlists, the most an account keeps." },
  schedules: { max: 5, reason: "You have 5 schedules, the most an account keeps. Delete one to create another." },
  webhooks: { max: 10, reason: "You have 10 webhooks, the most an account keeps. Delete one to add another." },
  sources: { max: 20, reason: "This playlist has 20 upstream sources, the most it takes. Remove one to add another." },
  sessions: { max: 10, reason: "This playlist has 10 saved workshop sessions, the most it keeps. Delete one to save another." },
  snapshots: { max: 50, reason: "This playlist has 50 saved snapshots, the most it keeps." },
};

/** Disables `button` once `count` reaches the cap named `cap`, with the
 *  reason in a note beside it; enables it again below the cap. */
function applyCap(button, cap, count) {
  const full = count >= CAPS[cap].max;
  const id = `cap-${cap}`;
  button.disabled = full;
  button.toggleAttribute("data-capped", full);
  let note = button.parentElement.querySelector(`[data-cap="${cap}"]`);
  if (full && !note) {
    note = h("span", { id, class: "cap-note", "data-cap": cap }, CAPS[cap].reason);
    button.after(note);
    button.setAttribute("aria-describedby", id);
  } else if (!full && note) {
    note.remove();
    button.removeAttribute("aria-describedby");
  }
}

// ---------------------------------------------------------------- pickers

/** A playlist as every picker names it: "Road Trip · 18 tracks", with
 *  "· Spotify" for a linked one and, when another playlist in `all` has
 *  the same name, the start of its id ("· id XiZ9cS"). */
function playlistLabel(p, all = []) {
  const twin = all.some((o) => o.id !== p.id && o.name === p.name);
  return [p.name, `${p.track_count} ${p.track_count === 1 ? "track" : "tracks"}`,
    p.provider === "spotify" ? "Spotify" : null, twin ? `id ${p.id.slice(0, 6)}` : null]
    .filter(Boolean).join(" · ");
}

/** The options of a playlist picker, each labelled by playlistLabel
 *  against `all` (the caller's playlists, even those not offered). */
const playlistOptions = (items, all = items) => items.map((p) => h("option", { value: p.id }, playlistLabel(p, all)));

/** A message for the next page drawn (an action's outcome that re-draws). */
let flash = null;

function page(title, ...children) {
  const notice = flash ? h("p", { class: "notice", role: "status" }, flash) : null;
  flash = null;
  view.replaceChildren(...[h("h1", {}, title), notice, ...children].filter(Boolean));
  document.title = `${title} · Shuffify`;
  view.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- session

function forgetSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  live.stop();
}

function showNav() {
  const user = JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
  const nav = document.getElementById("nav");
  nav.hidden = !user;
  document.getElementById("who").textContent = user ? `Signed in as ${user.username}` : "";
  const route = hashRoute().parts[0];
  for (const a of nav.querySelectorAll("a[href^='#']")) {
    const target = a.getAttribute("href").split("/")[1] || "";
    if (target === route) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

document.getElementById("signout").addEventListener("click", async () => {
  try { await api("POST", "/api/auth/logout"); } catch (_) { /* the token is gone either way */ }
  forgetSession();
  location.hash = "#/signin";
});

/** Logs in, keeps the session, and goes to the activity page. */
async function signedIn(username, password) {
  const login = await api("POST", "/api/auth/login", { username, password });
  sessionStorage.setItem(TOKEN_KEY, login.token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(login.user));
  location.hash = "#/";
}

function signIn() {
  const signInForm = form({ "aria-labelledby": "signin-title" }, [
    h("h2", { id: "signin-title" }, "Sign in"),
    field("Username", text("username", { autocomplete: "username", required: true })),
    field("Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
  ], async (data) => {
    await signedIn(data.get("username"), data.get("password"));
  });
  const registerForm = form({ "aria-labelledby": "register-title" }, [
    h("h2", { id: "register-title" }, "Create an account"),
    field("Username (3–32 of a-z, 0-9, _ . -)", text("username", { autocomplete: "username" })),
    field("Password (8–128 characters)", h("input", { type: "password", name: "password", autocomplete: "new-password" })),
    field("Display name (optional)", text("display_name")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create account")),
  ], async (data, el) => {
    const body = { username: data.get("username"), password: data.get("password") };
    if (data.get("display_name")) body.display_name = data.get("display_name");
    await api("POST", "/api/auth/register", body);
    await signedIn(body.username, body.password);
    flash = "Welcome to Shuffify: your account is ready.";
  });
  page("Welcome", h("div", { class: "grid" }, h("section", { class: "card" }, signInForm), h("section", { class: "card" }, registerForm)));
}

// ---------------------------------------------------------------- live feed

/** The live activity stream: EventSource with a single-use ticket,
 *  reopened with a fresh ticket and the last id seen after any drop. */
const live = {
  source: null, lastId: null, listeners: new Set(), retry: null, status: "off",
  async start() {
    if (this.source || !token()) return;
    try {
      const ticket = await api("POST", "/api/activity/stream/tickets");
      const params = new URLSearchParams({ ticket: ticket.ticket });
      if (this.lastId !== null) params.set("last_event_id", this.lastId);
      const source = new EventSource(`/api/activity/stream?${params}`);
      this.source = source;
      source.addEventListener("open", () => this.setStatus("on"));
      source.addEventListener("activity", (event) => {
        this.lastId = Number(event.lastEventId);
        const item = JSON.parse(event.data);
        for (const listener of this.listeners) listener(item);
      });
      source.addEventListener("error", () => {
        // The ticket is spent: EventSource's own retry would be refused.
        source.close();
        this.source = null;
        this.setStatus("reconnecting");
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.start(), 2000);
      });
    } catch (_) {
      this.setStatus("reconnecting");
      this.retry = setTimeout(() => this.start(), 5000);
    }
  },
  stop() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    this.source = null;
    this.lastId = null;
    this.setStatus("off");
  },
  setStatus(status) {
    this.status = status;
    document.querySelectorAll("[data-live]").forEach((el) => {
      el.className = status === "on" ? "live on" : "live";
      el.textContent = status === "on" ? "Live" : status === "reconnecting" ? "Reconnecting…" : "Offline";
    });
  },
};

// ---------------------------------------------------------------- activity

const ACTIVITY_TYPES = ["shuffle", "workshop_commit", "workshop_session_save", "workshop_session_delete",
  "upstream_source_add", "upstream_source_delete", "schedule_create", "schedule_update", "schedule_delete",
  "schedule_toggle", "schedule_run", "snapshot_create", "snapshot_restore", "snapshot_delete",
  "settings_change", "login", "logout", "login_failed", "playlist_create", "playlist_update", "playlist_delete",
  "provider_connect", "provider_disconnect", "playlist_sync",
  "account_export", "webhook_create", "webhook_delete", "webhook_disabled",
  "password_change", "profile_update", "playlist_dedupe"];

/** A short browser name from a User-Agent ("Firefox"), or null. Written
 *  here rather than taken from a parser library: the app has no build step
 *  and no dependencies, and it shows only a name. Order matters: Edge and
 *  Opera also say Chrome, and Chrome also says Safari. */
function browserName(userAgent) {
  if (!userAgent) return null;
  const known = [[/\bEdg(e|A|iOS)?\//, "Edge"], [/\bOPR\/|\bOpera\b/, "Opera"],
    [/\bFirefox\/|\bFxiOS\//, "Firefox"], [/Chrom(e|ium)\/|\bCriOS\//, "Chrome"],
    [/\bSafari\//, "Safari"]];
  const found = known.find(([pattern]) => pattern.test(userAgent));
  // Anything else (curl, a script) by its first product token.
  return found ? found[1] : userAgent.split(/[\/\s]/)[0].slice(0, 24) || null;
}

/** A changed value as text: "none" for null, lists joined. */
function changeValue(value) {
  if (value === null || value === undefined) return "none";
  if (Array.isArray(value)) return value.length ? value.map(changeValue).join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** "name: Road Trip → Summer Road Trip", one per changed field, in the
 *  order the row lists them. */
function changeLines(metadata) {
  const changes = metadata && metadata.changes;
  if (!changes || typeof changes !== "object") return null;
  const listed = metadata.changed_fields || metadata.updated_fields || [];
  const order = [...listed.filter((f) => f in changes), ...Object.keys(changes).filter((f) => !listed.includes(f))];
  const lines = order.map((field) => [field, changes[field]]).map(([field, change]) =>
    h("li", {}, `${field.replaceAll("_", " ")}: ${changeValue(change.from)} → ${changeValue(change.to)}`,
      change.truncated ? " (cut)" : ""));
  return lines.length ? h("ul", { class: "changes" }, lines) : null;
}

/** "from 203.0.113.5 · Firefox · everything from this session". */
function contextLine(context) {
  if (!context) return null;
  const where = [context.ip_address, browserName(context.user_agent)].filter(Boolean).join(" · ");
  return h("div", { class: "meta context" },
    where ? `from ${where}` : "",
    context.session_id ? [where ? " · " : "",
      h("a", { href: `#/?session_id=${encodeURIComponent(context.session_id)}` }, "everything from this session")] : "");
}

function activityItem(item, fresh = false) {
  return h("li", { class: fresh ? "new" : "", "data-id": item.id },
    h("div", {},
      h("span", { class: `tag ${item.actor_type}` }, item.actor_type),
      item.description),
    h("time", { class: "meta", datetime: item.created_at }, when(item.created_at)),
    h("div", { class: "meta" }, item.activity_type.replaceAll("_", " "),
      item.playlist_name ? ` · ${item.playlist_name}` : ""),
    changeLines(item.metadata),
    contextLine(item.context));
}

async function activityPage() {
  const banner = h("div");
  const cards = h("div", { class: "cards", "aria-label": "Activity in the last 30 days" });
  const chart = h("div", { class: "chart", role: "img" });
  const axis = h("div", { class: "chart-axis" });
  const list = h("ul", { class: "feed", "aria-live": "polite", "aria-label": "Your activity" });
  const more = h("button", { type: "button", class: "secondary hidden" }, "Load more");
  const status = h("span", { "data-live": true, class: "live" }, "Offline");
  let cursor = null;
  // "#/?session_id=12": the trail of one session, from an item's link.
  const session = /^[1-9][0-9]{0,18}$/.test(hashRoute().query.get("session_id") || "")
    ? hashRoute().query.get("session_id") : null;
  const fresh = () => new URLSearchParams(session ? { limit: "20", session_id: session } : { limit: "20" });
  let query = fresh();

  const filters = form({ "aria-label": "Filter activity" }, [
    h("div", { class: "row" },
      field("Types", h("select", { name: "types", multiple: true, size: 4 },
        ACTIVITY_TYPES.map((t) => h("option", { value: t }, t.replaceAll("_", " "))))),
      h("fieldset", {}, h("legend", {}, "Actors"),
        ["user", "scheduler", "system"].map((a) => h("label", { class: "inline" },
          h("input", { type: "checkbox", name: "actors", value: a }), a))),
      field("Range", h("select", { name: "range" },
        [["all", "All time"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["90d", "Last 90 days"]]
          .map(([v, l]) => h("option", { value: v }, l)))),
      field("Search", h("input", { type: "search", name: "q" }))),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", class: "secondary", onclick: () => exportTrail("ndjson") }, "Export NDJSON"),
      h("button", { type: "button", class: "secondary", onclick: () => exportTrail("csv") }, "Export CSV")),
  ], async (data) => {
    query = fresh();
    const types = data.getAll("types");
    const actors = data.getAll("actors");
    if (types.length) query.set("types", types.join(","));
    if (actors.length) query.set("actors", actors.join(","));
    if (data.get("range") && data.get("range") !== "all") query.set("range", data.get("range"));
    if (data.get("q")) query.set("q", data.get("q"));
    list.replaceChildren();
    cursor = null;
    await load();
  });

  async function load() {
    const params = new URLSearchParams(query);
    if (cursor) params.set("cursor", cursor);
    const page = await api("GET", `/api/activity?${params}`);
    list.append(...page.items.map((item) => activityItem(item)));
    cursor = page.next_cursor;
    more.classList.toggle("hidden", !cursor);
    if (!list.children.length) list.append(h("li", { class: "muted" }, "Nothing here yet."));
  }

  async function exportTrail(format) {
    const params = new URLSearchParams(query);
    params.delete("limit");
    params.set("format", format);
    const res = await fetch(`/api/activity/export?${params}`, { headers: { Authorization: `Bearer ${token()}` } });
    if (!res.ok) { showError(filters, new ApiError(res.status, await res.json())); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = h("a", { href: url, download: `activity.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try { await load(); } finally { more.disabled = false; }
  });

  page("Activity",
    banner,
    h("section", { class: "card" }, h("h2", {}, "Last 30 days"), cards, chart, axis),
    h("section", { class: "card" }, h("div", { class: "row" }, h("h2", {}, "Your trail"), status),
      session ? h("p", { class: "banner", role: "status" }, `Everything from session ${session}. `,
        h("a", { href: "#/" }, "Show all activity")) : null,
      filters, list,
      h("div", { class: "actions" }, more)));

  const [since, summary] = await Promise.all([
    api("GET", "/api/activity/since?since=last_login&limit=1"),
    api("GET", "/api/activity/summary?days=30"),
  ]);
  if (since.since && since.total > 0) {
    banner.replaceWith(h("div", { class: "banner", role: "status" },
      h("span", { "data-since-count": since.total },
        `${since.total} ${since.total === 1 ? "thing" : "things"} happened since you last signed in (${when(since.since)}).`),
      h("button", { type: "button", onclick: (e) => e.target.parentElement.remove() }, "Dismiss")));
  }
  const top = Object.entries(summary.counts).sort((a, b) => b[1] - a[1]).slice(0, 7);
  cards.replaceChildren(h("div", { class: "stat" }, h("b", {}, summary.total), h("span", {}, "in all")),
    ...top.map(([type, n]) => h("div", { class: "stat" }, h("b", {}, n), h("span", {}, type.replaceAll("_", " ")))));
  const peak = Math.max(1, ...summary.per_day.map((d) => d.count));
  chart.setAttribute("aria-label", summary.per_day.map((d) => `${d.date}: ${d.count}`).join(", "));
  chart.replaceChildren(...summary.per_day.map((d) =>
    h("div", { style: `height:${Math.round((d.count / peak) * 100)}%`, title: `${d.date}: ${d.count}` })));
  axis.replaceChildren(h("span", {}, summary.per_day[0]?.date || ""), h("span", {}, "today"));
  await load();

  const onItem = (item) => {
    if (!view.contains(list)) { live.listeners.delete(onItem); return; }
    if (list.querySelector(`[data-id="${item.id}"]`)) return;
    if (session && String(item.context && item.context.session_id) !== session) return;
    list.querySelector(".muted")?.remove();
    list.prepend(activityItem(item, true));
  };
  live.listeners.add(onItem);
  live.setStatus(live.status);
}

// ---------------------------------------------------------------- playlists

/** "uri | name | artist, artist | album | tempo" per line, or a JSON array. */
function parseTracks(textValue) {
  const trimmed = textValue.trim();
  if (!trimmed) return [];
  if (trimmed.startsWith("[")) return JSON.parse(trimmed);
  return trimmed.split("\n").filter((l) => l.trim()).map((line) => {
    const [uri, name, artists, album, tempo] = line.split("|").map((s) => s.trim());
    const track = { uri, name: name || uri, artists: artists ? artists.split(",").map((a) => a.trim()).filter(Boolean) : [] };
    if (album) track.album_name = album;
    if (tempo) track.tempo = Number(tempo);
    return track;
  });
}

async function playlistsPage() {
  const list = h("tbody");
  const create = form({ "aria-label": "New playlist" }, [
    h("h2", {}, "New playlist"),
    field("Name", text("name", { required: true })),
    field("Description", text("description")),
    h("label", { class: "inline" }, h("input", { type: "checkbox", name: "is_public" }), "Public"),
    field("Tracks: one per line as uri | name | artists | album | tempo, or paste a JSON array",
      h("textarea", { name: "tracks", placeholder: "demo:1 | Lantern | Neon Harbor | Night Ferry | 96" })),
    field("Or import a JSON file", h("input", { type: "file", name: "file", accept: "application/json,.json" })),
    h("div", { class: "actions" }, h("button", { type: "submit", "data-create": "playlist" }, "Create playlist")),
  ], async (data) => {
    const file = data.get("file");
    let tracksText = data.get("tracks");
    if (file && file.size) tracksText = await file.text();
    let tracks;
    try { tracks = parseTracks(tracksText); } catch (e) { throw new Error(`The tracks could not be read: ${e.message}`); }
    const body = { name: data.get("name"), is_public: data.get("is_public") === "on", tracks };
    if (data.get("description")) body.description = data.get("description");
    const created = await api("POST", "/api/playlists", body);
    location.hash = `#/playlists/${created.id}`;
  });
  page("Playlists",
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Your playlists"),
        h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Tracks"), h("th", {}, "Version"), h("th", {}, "Changed"))), list))),
      h("section", { class: "card" }, create)));
  const playlists = await api("GET", "/api/playlists?limit=100");
  applyCap(create.querySelector("button[type=submit]"), "playlists", playlists.total);
  list.replaceChildren(...playlists.items.map((p) => h("tr", {},
    h("td", {}, h("a", { href: `#/playlists/${p.id}` }, p.name),
      p.provider === "spotify" ? h("span", { class: "tag provider" }, "Spotify") : null), h("td", {}, p.track_count),
    h("td", {}, p.version), h("td", {}, when(p.updated_at)))));
  if (!playlists.items.length) list.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No playlists yet.")));
}

let algorithmsCache = null;
async function algorithms() {
  algorithmsCache = algorithmsCache || (await api("GET", "/api/algorithms")).items;
  return algorithmsCache;
}

/** An algorithm picker with its parameters' inputs, named `params.<name>`. */
function algorithmFields(algos, selected) {
  const holder = h("div", { class: "row" });
  const picker = h("select", { name: "algorithm" }, algos.map((a) => h("option", { value: a.key, selected: a.key === selected }, a.name)));
  const params = h("div", { class: "row" });
  const describe = h("p", { class: "muted" });
  function draw() {
    const algo = algos.find((a) => a.key === picker.value);
    describe.textContent = algo.description;
    params.replaceChildren(...Object.entries(algo.parameters).map(([name, p]) => field(name.replaceAll("_", " "),
      p.type === "integer"
        ? h("input", { type: "number", name: `params.${name}`, min: p.min, max: p.max, value: p.default, title: p.description })
        : h("select", { name: `params.${name}`, title: p.description }, p.options.map((o) => h("option", { value: o, selected: o === p.default }, o))))));
  }
  picker.addEventListener("change", draw);
  holder.append(field("Algorithm", picker));
  draw();
  return h("div", {}, holder, describe, params);
}

function readParams(data) {
  const params = {};
  for (const [key, value] of data.entries()) {
    if (!key.startsWith("params.")) continue;
    const name = key.slice(7);
    params[name] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return params;
}

async function playlistPage(id) {
  const [playlist, algos, mine] = await Promise.all([api("GET", `/api/playlists/${id}`), algorithms(),
    api("GET", "/api/playlists?limit=100")]);
  // The version as a strong tag, written here rather than echoed from
  // `ETag`: a compressing proxy may weaken that, and a weak tag never matches.
  let version = `"${playlist.version}"`;
  const reload = () => route();

  // Pins: a pinned slot keeps its track through every shuffle, and a
  // dedupe never removes it. Toggling one saves the whole set.
  const pinned = new Set(playlist.pinned_positions);
  const pinError = h("div", { role: "alert" });
  async function togglePin(position) {
    const next = new Set(pinned);
    if (next.has(position)) next.delete(position); else next.add(position);
    pinError.replaceChildren();
    try {
      await api("PATCH", `/api/playlists/${id}`, { pinned_positions: [...next].sort((a, b) => a - b) }, { "If-Match": version });
      flash = next.has(position) ? `Pinned track ${position + 1}: shuffles leave it where it is.` : `Unpinned track ${position + 1}.`;
      reload();
    } catch (err) {
      pinError.replaceChildren(h("p", { class: "form-error" }, err.message + advice(err)));
    }
  }
  const tracks = h("tbody", {}, playlist.tracks.map((t) => {
    const isPinned = pinned.has(t.position);
    return h("tr", { class: isPinned ? "pinned" : null },
      h("td", {}, t.position + 1),
      h("td", {}, t.name),
      h("td", {}, t.artists.join(", ")), h("td", {}, t.album_name || ""), h("td", {}, t.tempo ?? ""),
      h("td", {}, h("button", { type: "button", class: isPinned ? "pin on" : "pin secondary", "aria-pressed": String(isPinned),
        "aria-label": `Pin ${t.name} (track ${t.position + 1})`, title: isPinned ? "Pinned: shuffles leave it here. Click to unpin." : "Pin it to this position",
        onclick: () => togglePin(t.position) }, isPinned ? "Pinned" : "Pin")));
  }));
  const pastEnd = playlist.pinned_positions.filter((p) => p >= playlist.tracks.length);
  const pinNote = h("p", { class: "muted" }, pinned.size
    ? `${pinned.size} pinned position${pinned.size === 1 ? "" : "s"}: shuffles order the other tracks around them.`
      + (pastEnd.length ? ` Past the end (no effect yet): ${pastEnd.map((p) => p + 1).join(", ")}.` : "")
    : "Pin a track to keep it at its position when the playlist is shuffled.");

  // Remove duplicates: a preview (dry run) of what would go, then confirm.
  const dedupeResult = h("div", { "aria-live": "polite" });
  const dedupe = form({ "aria-label": "Remove duplicates", onreload: reload }, [
    h("h2", {}, "Remove duplicates"),
    field("Duplicates are", h("select", { name: "by" },
      h("option", { value: "uri" }, "The same track (same URI)"),
      h("option", { value: "track" }, "The same name and first artist (ignoring case and accents)"))),
    h("p", { class: "muted" }, "The first of each stays; a pinned track always stays. Undo brings them back."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Preview duplicates")),
    dedupeResult,
  ], async (data) => {
    const by = data.get("by");
    const preview = await api("POST", `/api/playlists/${id}/dedupe?dry_run=true`, { by }, { "If-Match": version });
    if (!preview.removed.length) {
      dedupeResult.replaceChildren(h("p", { class: "notice", role: "status" }, "No duplicates: nothing to remove."));
      return;
    }
    const names = Object.fromEntries(playlist.tracks.map((t) => [t.position, t.name]));
    const n = preview.removed.length;
    dedupeResult.replaceChildren(
      h("p", {}, `${n} ${n === 1 ? "entry" : "entries"} would be removed:`),
      h("ul", { class: "removed", "aria-label": "Duplicates to remove" }, preview.removed.map((r) =>
        h("li", {}, `#${r.position + 1} ${names[r.position] ?? r.uri}`, h("span", { class: "muted" }, ` (${r.uri})`)))),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: async (event) => {
          event.target.disabled = true;
          clearErrors(dedupe);
          try {
            const result = await api("POST", `/api/playlists/${id}/dedupe`, { by }, { "If-Match": version });
            flash = result.changed ? `Removed ${result.removed.length} duplicate${result.removed.length === 1 ? "" : "s"}.` : "No duplicates: nothing to remove.";
            reload();
          } catch (err) { event.target.disabled = false; showError(dedupe, err, reload); }
        } }, `Remove ${n} duplicate${n === 1 ? "" : "s"}`),
        h("button", { type: "button", class: "secondary", onclick: () => dedupeResult.replaceChildren() }, "Cancel")));
  });

  const shuffle = form({ "aria-label": "Shuffle", onreload: reload }, [
    h("h2", {}, "Shuffle"),
    algorithmFields(algos, "basic"),
    field("Seed (optional, for a reproducible order)", text("seed", { inputmode: "numeric" })),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Shuffle"),
      h("button", { type: "button", class: "secondary", onclick: undo }, "Undo"),
      playlist.provider === "spotify"
        ? h("button", { type: "button", class: "secondary", onclick: sync }, "Sync from Spotify") : null),
  ], async (data) => {
    const body = { algorithm: data.get("algorithm"), params: readParams(data) };
    if (data.get("seed")) body.seed = data.get("seed");
    const result = await api("POST", `/api/playlists/${id}/shuffle`, body, { "If-Match": version });
    if (!result.changed) shuffle.prepend(h("p", { class: "notice", role: "status" }, "The order came out the same; nothing changed."));
    else reload();
  });
  async function sync() {
    clearErrors(shuffle);
    try {
      const result = await api("POST", `/api/playlists/${id}/sync`, undefined, { "If-Match": version });
      flash = result.changed
        ? `Synced from Spotify: ${result.added} added, ${result.removed} removed${result.reordered ? ", reordered" : ""}.`
        : "Already in step with Spotify.";
      reload();
    } catch (err) { showError(shuffle, err, reload); }
  }
  async function undo() {
    clearErrors(shuffle);
    try { await api("POST", `/api/playlists/${id}/undo`, undefined, { "If-Match": version }); reload(); }
    catch (err) { showError(shuffle, err, reload); }
  }

  // The workshop: an order to rearrange, preview and commit.
  let order = playlist.tracks.map((t) => ({ uri: t.uri, name: t.name }));
  const names = Object.fromEntries(playlist.tracks.map((t) => [t.uri, t.name]));
  const orderList = h("ol", { class: "order", "aria-label": "Workshop order" });
  function drawOrder() {
    orderList.replaceChildren(...order.map((t, i) => h("li", {},
      h("span", {}, `${i + 1}. ${t.name}`),
      h("button", { type: "button", class: "secondary", "aria-label": `Move ${t.name} up`, disabled: i === 0, onclick: () => move(i, -1) }, "↑"),
      h("button", { type: "button", class: "secondary", "aria-label": `Move ${t.name} down`, disabled: i === order.length - 1, onclick: () => move(i, 1) }, "↓"))));
  }
  function move(i, by) {
    [order[i], order[i + by]] = [order[i + by], order[i]];
    drawOrder();
    orderList.querySelectorAll("li")[i + by]?.querySelector("button:not(:disabled)")?.focus();
  }
  const useUris = (uris) => { order = uris.map((uri) => ({ uri, name: names[uri] || uri })); drawOrder(); };
  const workshop = form({ "aria-label": "Workshop", onreload: reload }, [
    h("h2", {}, "Workshop"),
    algorithmFields(algos, "artist_spacing"),
    orderList,
    field("Session name", text("session_name")),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: preview }, "Preview"),
      h("button", { type: "submit" }, "Commit order"),
      h("button", { type: "button", class: "secondary", onclick: saveSession, "data-save-session": true }, "Save as session")),
  ], async () => {
    const result = await api("POST", `/api/playlists/${id}/workshop/commit`, { track_uris: order.map((t) => t.uri) }, { "If-Match": version });
    flash = result.changed ? "Committed the new order." : "That is already the order.";
    reload();
  });
  async function preview() {
    clearErrors(workshop);
    const data = new FormData(workshop);
    try {
      const result = await api("POST", `/api/playlists/${id}/workshop/preview`,
        { algorithm: data.get("algorithm"), params: readParams(data), track_uris: order.map((t) => t.uri) });
      useUris(result.track_uris);
    } catch (err) { showError(workshop, err, reload); }
  }
  async function saveSession() {
    clearErrors(workshop);
    const data = new FormData(workshop);
    try {
      await api("POST", `/api/playlists/${id}/workshop/sessions`, { session_name: data.get("session_name") || "Draft", track_uris: order.map((t) => t.uri) });
      await drawSessions();
    } catch (err) { showError(workshop, err, reload); }
  }
  const sessions = h("ul", { class: "feed" });
  async function drawSessions() {
    const list = await api("GET", `/api/playlists/${id}/workshop/sessions`);
    applyCap(workshop.querySelector("[data-save-session]"), "sessions", list.items.length);
    sessions.replaceChildren(...list.items.map((s) => h("li", {},
      h("span", {}, `${s.session_name} (${s.track_uris.length} tracks)`),
      h("span", {},
        h("button", { type: "button", class: "secondary", onclick: () => useUris(s.track_uris) }, "Load"), " ",
        h("button", { type: "button", class: "danger", onclick: async () => { await api("DELETE", `/api/workshop/sessions/${s.id}`); drawSessions(); } }, "Delete")))));
    if (!list.items.length) sessions.append(h("li", { class: "muted" }, "No saved sessions."));
  }

  // Snapshots.
  const snapshots = h("ul", { class: "feed" });
  const snapshotForm = form({ "aria-label": "Snapshots", onreload: reload }, [
    h("h2", {}, "Snapshots"),
    snapshots,
    field("Note for a new snapshot", text("trigger_description")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save snapshot")),
  ], async (data) => {
    await api("POST", `/api/playlists/${id}/snapshots`, data.get("trigger_description") ? { trigger_description: data.get("trigger_description") } : {});
    await drawSnapshots();
  });
  async function drawSnapshots() {
    const all = await api("GET", `/api/playlists/${id}/snapshots?limit=100`);
    applyCap(snapshotForm.querySelector("button[type=submit]"), "snapshots",
      all.items.filter((s) => s.snapshot_type === "manual").length);
    const list = { items: all.items.slice(0, 20) };
    snapshots.replaceChildren(...list.items.map((s) => h("li", {},
      h("span", {}, `${s.snapshot_type.replaceAll("_", " ")} · ${s.track_count} tracks · ${when(s.created_at)}`, s.trigger_description ? ` · ${s.trigger_description}` : ""),
      h("span", {}, h("button", { type: "button", class: "secondary", onclick: async () => {
        clearErrors(snapshotForm);
        try { await api("POST", `/api/snapshots/${s.id}/restore`, undefined, { "If-Match": version }); reload(); }
        catch (err) { showError(snapshotForm, err, reload); }
      } }, "Restore")))));
    if (!list.items.length) snapshots.append(h("li", { class: "muted" }, "No snapshots yet."));
  }

  // Upstream sources.
  const sources = h("ul", { class: "feed" });
  const sourceForm = form({ "aria-label": "Upstream sources" }, [
    h("h2", {}, "Upstream sources"),
    sources,
    field("Source", h("select", { name: "kind" },
      h("option", { value: "here" }, "A playlist here"),
      h("option", { value: "spotify" }, "A Spotify playlist"),
      h("option", { value: "spotify_liked" }, "Liked Songs on Spotify"))),
    field("One of your playlists", h("select", { name: "own_playlist_id" },
      h("option", { value: "" }, "None: use the id below"),
      playlistOptions(mine.items.filter((p) => p.id !== id), mine.items))),
    field("Or a playlist id (here: a public one; on Spotify: one you own or collaborate on; none for Liked Songs)", text("source_playlist_id")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add source")),
  ], async (data) => {
    const kind = data.get("kind");
    const own = kind === "here" && data.get("own_playlist_id");
    const body = kind === "spotify_liked"
      ? { source_playlist_id: "liked", source_type: "spotify_liked" }
      : { source_playlist_id: own || data.get("source_playlist_id") };
    if (kind === "spotify") body.source_type = "spotify";
    await api("POST", `/api/playlists/${id}/upstream-sources`, body);
    await drawSources();
  });
  async function drawSources() {
    const list = await api("GET", `/api/playlists/${id}/upstream-sources`);
    applyCap(sourceForm.querySelector("button[type=submit]"), "sources", list.items.length);
    sources.replaceChildren(...list.items.map((s) => h("li", {},
      h("span", {}, s.source_name || s.source_playlist_id, ` (${s.source_type.replaceAll("_", " ")})`),
      h("button", { type: "button", class: "danger", onclick: async () => { await api("DELETE", `/api/upstream-sources/${s.id}`); drawSources(); } }, "Remove"))));
    if (!list.items.length) sources.append(h("li", { class: "muted" }, "No upstream sources."));
  }

  // Rotation: the size a raid leaves the playlist at, the tracks added
  // longest ago moving to an archive (or dropped).
  const rotation = playlist.rotation;
  const others = mine.items.filter((p) => p.id !== id);
  const archiveName = (archiveId) => {
    const found = mine.items.find((p) => p.id === archiveId);
    return found ? `"${found.name}"` : `playlist ${archiveId}`;
  };
  const archivePicker = h("select", { name: "archive_playlist_id" },
    h("option", { value: "" }, "None: drop them"), playlistOptions(others, mine.items));
  archivePicker.value = (rotation && rotation.archive_playlist_id) || "";
  const rotationForm = form({ "aria-label": "Rotation", onreload: reload }, [
    h("h2", {}, "Rotation"),
    h("p", { class: "muted", "data-rotation": rotation ? "on" : "off" }, rotation
      ? `After each raid this playlist keeps at most ${rotation.max_tracks} tracks; the ones added longest ago ${
        rotation.archive_playlist_id ? `move to the end of ${archiveName(rotation.archive_playlist_id)}` : "are dropped"}.`
      : "Off: raids add tracks until the playlist holds 10,000."),
    field("Most tracks to keep (1–10,000)", h("input", { type: "number", name: "rotation", min: 1, max: 10000,
      value: rotation ? rotation.max_tracks : "" })),
    field("Archive for the tracks that rotate out", archivePicker),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Save rotation"),
      h("button", { type: "button", class: "secondary", disabled: !rotation, onclick: stopRotation }, "Turn off")),
  ], async (data) => {
    const body = { max_tracks: Number(data.get("rotation")) };
    if (data.get("archive_playlist_id")) body.archive_playlist_id = data.get("archive_playlist_id");
    await api("PATCH", `/api/playlists/${id}`, { rotation: body }, { "If-Match": version });
    flash = "Rotation saved.";
    reload();
  });
  async function stopRotation() {
    clearErrors(rotationForm);
    try {
      await api("PATCH", `/api/playlists/${id}`, { rotation: null }, { "If-Match": version });
      flash = "Rotation turned off.";
      reload();
    } catch (err) { showError(rotationForm, err, reload); }
  }

  page(playlist.name,
    h("p", { class: "muted" }, `Version ${playlist.version} · ${playlist.tracks.length} tracks · changed ${when(playlist.updated_at)} · id ${playlist.id}`,
      playlist.provider === "spotify" ? ` · linked to Spotify playlist ${playlist.spotify_playlist_id}: shuffles, commits, dedupes, restores and undo write to Spotify too` : ""),
    h("div", { class: "grid" }, h("section", { class: "card" }, shuffle), h("section", { class: "card" }, snapshotForm)),
    h("section", { class: "card" }, h("h2", {}, "Tracks"), pinNote, pinError, h("div", { class: "scroll" }, h("table", { "aria-label": "Tracks", class: "tracks" },
      h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Name"), h("th", {}, "Artists"), h("th", {}, "Album"), h("th", {}, "Tempo"), h("th", {}, "Pin"))), tracks))),
    h("section", { class: "card" }, dedupe),
    h("div", { class: "grid" }, h("section", { class: "card" }, workshop, h("h2", {}, "Saved sessions"), sessions), h("section", { class: "card" }, sourceForm, rotationForm)));
  drawOrder();
  await Promise.all([drawSessions(), drawSnapshots(), drawSources()]);
}

// ---------------------------------------------------------------- schedules

async function schedulesPage() {
  const [schedules, playlists, algos] = await Promise.all([
    api("GET", "/api/schedules"), api("GET", "/api/playlists?limit=100"), algorithms()]);
  const rows = h("div");
  for (const s of schedules.items) {
    const history = h("ul", { class: "feed" });
    const card = form({ "aria-label": `Schedule ${s.id}` }, [
      h("h2", {}, `${s.job_type.replaceAll("_", " ")} · ${s.target_playlist_name}`),
      h("p", { class: "muted" }, `${s.schedule_type} ${s.schedule_value} · ${s.is_enabled ? `next run ${when(s.next_run_at)}` : "disabled"} · last ${s.last_status || "never run"}`,
        s.last_error ? ` (${s.last_error})` : ""),
      field("When (interval or cron)", text("schedule_value", { value: s.schedule_value })),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", class: "secondary", onclick: act(`/api/schedules/${s.id}/toggle`) }, s.is_enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "secondary", onclick: act(`/api/schedules/${s.id}/run`) }, "Run now"),
        h("button", { type: "button", class: "secondary", onclick: showHistory }, "History"),
        h("button", { type: "button", class: "danger", onclick: async () => { await api("DELETE", `/api/schedules/${s.id}`); route(); } }, "Delete")),
      history,
    ], async (data) => {
      await api("PATCH", `/api/schedules/${s.id}`, { schedule_value: data.get("schedule_value") });
      route();
    });
    function act(path) {
      return async () => {
        clearErrors(card);
        try { await api("POST", path); route(); } catch (err) { showError(card, err); }
      };
    }
    async function showHistory() {
      const runs = await api("GET", `/api/schedules/${s.id}/history?limit=10`);
      history.replaceChildren(...runs.items.map((r) => h("li", {},
        h("span", {}, `${r.triggered_by}: ${r.status}, ${r.tracks_added} added, ${r.tracks_total} in all`, r.error_message ? ` (${r.error_message})` : ""),
        h("time", { class: "meta" }, when(r.started_at)))));
      if (!runs.items.length) history.append(h("li", { class: "muted" }, "Not run yet."));
    }
    rows.append(h("section", { class: "card" }, card));
  }
  if (!schedules.items.length) rows.append(h("p", { class: "muted" }, "No schedules yet."));
  const create = form({ "aria-label": "New schedule" }, [
    h("h2", {}, "New schedule"),
    field("Job", h("select", { name: "job_type" }, ["shuffle", "raid", "raid_and_shuffle"].map((j) => h("option", { value: j }, j.replaceAll("_", " "))))),
    field("Target playlist", h("select", { name: "target_playlist_id" }, playlistOptions(playlists.items))),
    field("Sources (for raids)", h("select", { name: "source_playlist_ids", multiple: true, size: 3 }, playlistOptions(playlists.items))),
    field("Schedule type", h("select", { name: "schedule_type" }, h("option", { value: "interval" }, "interval"), h("option", { value: "cron" }, "cron (UTC)"))),
    field("When: every_6h, every_12h, daily, every_3d, weekly, or a five-field cron", text("schedule_value", { value: "daily" })),
    algorithmFields(algos, "basic"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create schedule")),
  ], async (data) => {
    const body = {
      job_type: data.get("job_type"), target_playlist_id: data.get("target_playlist_id"),
      schedule_type: data.get("schedule_type"), schedule_value: data.get("schedule_value"),
      source_playlist_ids: data.getAll("source_playlist_ids"),
    };
    if (body.job_type !== "raid") { body.algorithm_name = data.get("algorithm"); body.algorithm_params = readParams(data); }
    await api("POST", "/api/schedules", body);
    route();
  });
  applyCap(create.querySelector("button[type=submit]"), "schedules", schedules.items.length);
  page("Schedules", h("div", { class: "grid" }, rows, h("section", { class: "card" }, create)));
}

// ---------------------------------------------------------------- settings

async function settingsPage() {
  const [settings, algos] = await Promise.all([api("GET", "/api/settings"), algorithms()]);
  const settingsForm = form({ "aria-label": "Settings" }, [
    h("h2", {}, "Shuffling"),
    field("Default algorithm", h("select", { name: "default_algorithm" },
      algos.map((a) => h("option", { value: a.key, selected: a.key === settings.default_algorithm }, a.name)))),
    field("Default parameters (JSON)", h("textarea", { name: "default_algorithm_params" }, JSON.stringify(settings.default_algorithm_params, null, 2))),
    h("label", { class: "inline" }, h("input", { type: "checkbox", name: "auto_snapshot_enabled", checked: settings.auto_snapshot_enabled }), "Take a snapshot before every change"),
    field("Automatic snapshots kept per playlist (1–50)", h("input", { type: "number", name: "max_snapshots_per_playlist", min: 1, max: 50, value: settings.max_snapshots_per_playlist })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings")),
  ], async (data, el) => {
    let params;
    try { params = JSON.parse(data.get("default_algorithm_params") || "{}"); }
    catch (e) { throw new Error(`The parameters are not JSON: ${e.message}`); }
    await api("PATCH", "/api/settings", {
      default_algorithm: data.get("default_algorithm"),
      default_algorithm_params: params,
      auto_snapshot_enabled: data.get("auto_snapshot_enabled") === "on",
      max_snapshots_per_playlist: Number(data.get("max_snapshots_per_playlist")),
    });
    el.prepend(h("p", { class: "notice", role: "status" }, "Saved."));
  });
  // A refused connection comes back as #/settings?spotify_error=<code>:
  // said once, then dropped from the address so a reload does not repeat it.
  const spotifyError = hashRoute().query.get("spotify_error");
  if (spotifyError) history.replaceState(null, "", "#/settings");
  const [spotify, webhooks, me, sessions] = await Promise.all([spotifyCard(spotifyError), webhooksCard(),
    api("GET", "/api/me"), sessionsCard()]);
  page("Settings", h("div", { class: "grid" }, profileCard(me), passwordCard(sessions)), sessions,
    h("div", { class: "grid" }, h("section", { class: "card" }, settingsForm), spotify, accountCard()),
    webhooks);
}

/** Your name as shown, and your email; an emptied field is cleared. */
function profileCard(me) {
  const profileForm = form({ "aria-label": "Profile" }, [
    h("h2", {}, "Profile"),
    field("Display name (1–100 characters; empty: your username)", text("display_name", { value: me.display_name, autocomplete: "name", maxlength: 100 })),
    field("Email (optional)", h("input", { type: "email", name: "email", value: me.email || "", autocomplete: "email", maxlength: 254 })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save profile")),
  ], async (data, el) => {
    const name = data.get("display_name").trim();
    const email = data.get("email").trim();
    const user = await api("PATCH", "/api/me", { display_name: name || null, email: email || null });
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
    el.querySelector("[name=display_name]").value = user.display_name;
    el.prepend(h("p", { class: "notice", role: "status" }, "Profile saved."));
  });
  return h("section", { class: "card" }, profileForm);
}

/** A new password; the other sessions end with it (and `sessions`, the
 *  Sessions card, is re-drawn to show it). */
function passwordCard(sessions) {
  const passwordForm = form({ "aria-label": "Password" }, [
    h("h2", {}, "Password"),
    field("Current password", h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true })),
    field("New password (8–128 characters)", h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true })),
    field("New password again", h("input", { type: "password", name: "confirm", autocomplete: "new-password", required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Change password")),
  ], async (data, el) => {
    if (data.get("new_password") !== data.get("confirm")) {
      throw new ApiError(400, { error: { message: "The password was not changed.", details: [
        { field: "confirm", message: "does not match the new password" }] } });
    }
    // A wrong current password is a 401 without WWW-Authenticate: `api`
    // leaves the session be and the form shows the message.
    await api("POST", "/api/me/password", {
      current_password: data.get("current_password"), new_password: data.get("new_password"),
    });
    el.reset();
    el.prepend(h("p", { class: "notice", role: "status" },
      "Password changed. Every other device and browser was signed out; this one stays signed in."));
    sessions.refresh();
  });
  return h("section", { class: "card" }, passwordForm);
}

/** Where you are signed in: each live session with its address and
 *  browser; any but this one can be signed out. */
async function sessionsCard() {
  const card = h("section", { class: "card", "aria-label": "Sessions" }, h("h2", {}, "Sessions"));
  const body = h("div", {});
  card.append(h("p", { class: "muted" }, "Where your account is signed in now, newest first."), body);
  const fail = (err) => body.prepend(h("p", { class: "form-error", role: "alert" }, err.message + advice(err)));
  const end = async (ids) => {
    for (const id of ids) {
      try { await api("DELETE", `/api/me/sessions/${id}`); }
      // Ended meanwhile (elsewhere, or it expired): what was wanted.
      catch (err) { if (err.status !== 404) throw err; }
    }
  };
  const draw = async () => {
    const { items } = await api("GET", "/api/me/sessions");
    const others = items.filter((s) => !s.current).map((s) => s.id);
    const act = (label, ids, cls) => h("button", { type: "button", class: cls, onclick: async (event) => {
      event.target.disabled = true;
      try { await end(ids); await draw(); } catch (err) { fail(err); event.target.disabled = false; }
    } }, label);
    const rows = items.map((s) => h("tr", { "data-session": s.id },
      h("td", {}, when(s.created_at)),
      h("td", {}, when(s.expires_at)),
      h("td", {}, s.ip_address || "unknown"),
      h("td", { title: s.user_agent || "" }, browserName(s.user_agent) || "unknown"),
      h("td", {}, s.current ? h("span", { class: "pill good" }, "this device") : act("Sign out", [s.id], "secondary"))));
    body.replaceChildren(
      h("div", { class: "scroll" }, h("table", { "aria-label": "Your sessions" },
        h("thead", {}, h("tr", {}, ["Signed in", "Expires", "Address", "Browser", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows))),
      others.length ? h("div", { class: "actions" }, act("Sign out everywhere else", others, "danger"))
        : h("p", { class: "muted" }, "No other session is signed in."));
  };
  card.refresh = () => draw().catch(fail);
  await card.refresh();
  return card;
}

/** Your data: download all of it, or delete the account (with the
 *  password and the username typed out, so it cannot happen by a slip). */
function accountCard() {
  const user = JSON.parse(sessionStorage.getItem(USER_KEY) || "null") || {};
  const download = h("button", { type: "button", class: "secondary", onclick: async () => {
    card.querySelectorAll(".form-error, .notice").forEach((e) => e.remove());
    download.disabled = true;
    try {
      const res = await fetch("/api/me/export", { headers: { Authorization: `Bearer ${token()}` } });
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      const url = URL.createObjectURL(await res.blob());
      const link = h("a", { href: url, download: `shuffify-export-${user.username}.json` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      download.after(h("p", { class: "notice", role: "status" }, "Your data was downloaded."));
    } catch (err) {
      download.after(h("p", { class: "form-error", role: "alert" }, err.message + advice(err)));
    } finally {
      download.disabled = false;
    }
  } }, "Download my data");
  const deleteForm = form({ "aria-label": "Delete my account" }, [
    h("h3", {}, "Delete my account"),
    h("p", {}, "This deletes your account and everything in it: playlists, snapshots, schedules, webhooks, sessions, the Spotify connection and your whole activity trail. It cannot be undone."),
    field("Your password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    field(`Type your username (${user.username}) to confirm`, text("confirm", { autocomplete: "off", required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Delete my account")),
  ], async (data) => {
    if (data.get("confirm") !== user.username) {
      throw new ApiError(400, { error: { message: "The account was not deleted.", details: [
        { field: "confirm", message: `type your username, ${user.username}, exactly` }] } });
    }
    await api("DELETE", "/api/me", { password: data.get("password") });
    forgetSession();
    flash = "Your account and everything in it were deleted.";
    location.hash = "#/signin";
  });
  const card = h("section", { class: "card", "aria-label": "Your data" },
    h("h2", {}, "Your data"),
    h("p", {}, "Everything you keep here, as one JSON file."),
    h("div", { class: "actions" }, download),
    deleteForm);
  return card;
}

/** Why the callback refused a connection, by its `spotify_error` code. */
const SPOTIFY_ERRORS = {
  access_denied: "Spotify was not connected: the authorization was declined on Spotify's page.",
  state_invalid: "That Spotify connection link is not valid or was already used. Connect again from here.",
  expired: "The Spotify connection took longer than ten minutes and expired. Connect again from here.",
  cookie_mismatch: "That Spotify connection was started in another browser (or by someone else), so nothing was linked. Connect from this page.",
  account_linked_elsewhere: "This Spotify account is already linked to another Shuffify user.",
  exchange_failed: "Spotify did not complete the connection. Try again in a moment.",
  rate_limited: "Too many Spotify connection attempts from this address. Wait a minute, then connect again.",
  unavailable: "Shuffify could not finish connecting Spotify just now. Try again in a moment.",
};

/** Spotify: connect or disconnect, and import playlists once connected;
 *  `refused` is the code of a connection the server just refused. */
async function spotifyCard(refused) {
  const status = await api("GET", "/api/providers/spotify");
  const card = h("section", { class: "card", "aria-label": "Spotify" }, h("h2", {}, "Spotify"));
  if (refused) {
    card.append(h("p", { class: "form-error", role: "alert" },
      Object.hasOwn(SPOTIFY_ERRORS, refused) ? SPOTIFY_ERRORS[refused] : "Spotify was not connected."));
  }
  const act = (label, run, cls = "secondary") => h("button", { type: "button", class: cls, onclick: async () => {
    card.querySelectorAll(".form-error").forEach((e) => e.remove());
    try { await run(); } catch (err) { card.append(h("p", { class: "form-error", role: "alert" }, err.message + advice(err))); }
  } }, label);
  const connect = act("Connect Spotify", async () => {
    location.assign((await api("POST", "/api/providers/spotify/authorize")).authorize_url);
  }, "");
  if (!status.configured) {
    card.append(h("p", { class: "muted" }, "Spotify is not configured on this server."));
    return card;
  }
  if (!status.connected) {
    card.append(h("p", {}, "Connect your Spotify account to import playlists and shuffle them on Spotify."),
      h("div", { class: "actions" }, connect));
    return card;
  }
  card.append(h("p", {}, `Connected as ${status.display_name || status.spotify_user_id} (${status.spotify_user_id}) since ${when(status.connected_at)}.`));
  if (status.broken) {
    card.append(h("p", { class: "form-error", role: "alert" }, status.broken_reason), h("div", { class: "actions" }, connect));
  }
  card.append(h("div", { class: "actions" }, act("Disconnect", async () => {
    await api("DELETE", "/api/providers/spotify"); route();
  }, "danger")));
  if (status.broken) return card;
  const list = h("ul", { class: "feed", "aria-label": "Your Spotify playlists" }, h("li", { class: "muted" }, "Loading your Spotify playlists…"));
  card.append(h("h3", {}, "Your Spotify playlists"), list);
  api("GET", "/api/providers/spotify/playlists?limit=50").then((found) => {
    // Spotify lets the app read only playlists the account owns or
    // collaborates on: the ones it merely follows are shown greyed, with why.
    list.replaceChildren(...found.items.map((p) => h("li", { class: p.importable ? "" : "unreadable" },
      h("span", {}, `${p.name} · ${p.track_count} tracks`, p.owned ? "" : p.collaborative ? " · collaborative" : ` · followed (${p.owner})`),
      p.linked_playlist_id
        ? h("a", { href: `#/playlists/${p.linked_playlist_id}` }, "Open")
        : p.importable ? act("Import", async () => {
          const linked = await api("POST", "/api/providers/spotify/import", { spotify_playlist_id: p.spotify_playlist_id });
          location.hash = `#/playlists/${linked.id}`;
        }) : h("span", {}),
      p.importable ? null : h("span", { class: "meta" }, "Spotify only lets this app read playlists you own or collaborate on."))));
    if (!found.items.length) list.append(h("li", { class: "muted" }, "No playlists on this account."));
    if (found.total > found.items.length) list.append(h("li", { class: "muted" }, `Showing ${found.items.length} of ${found.total}.`));
  }).catch((err) => list.replaceChildren(h("li", { class: "form-error", role: "alert" }, err.message + advice(err))));
  return card;
}

// ---------------------------------------------------------------- webhooks

/** An API error as one readable line, with the first field's reason. */
function errorText(err) {
  const detail = err.details?.[0];
  return (detail ? `${err.message} (${detail.field}: ${detail.message})` : err.message) + (err.status ? advice(err) : "");
}

/** Webhooks: add one (its secret shown once), and for each one its state,
 *  a test ping, its delivery log, and delete. */
async function webhooksCard() {
  const card = h("section", { class: "card", "aria-label": "Webhooks" }, h("h2", {}, "Webhooks"),
    h("p", { class: "muted" }, "Shuffify POSTs each new activity row to your URL as JSON, signed with the webhook's secret in the ",
      h("code", {}, "Shuffify-Signature"), " header. Up to 10 webhooks; a failed delivery is retried for 24 hours."));
  const secretBox = h("div");
  const list = h("ul", { class: "hooks", "aria-label": "Your webhooks" });
  card.append(secretBox, list);

  async function drawList() {
    const { items } = await api("GET", "/api/webhooks");
    applyCap(create.querySelector("button[type=submit]"), "webhooks", items.length);
    list.replaceChildren(...items.map(webhookItem));
    if (!items.length) list.append(h("li", { class: "muted" }, "No webhooks yet."));
  }

  function showSecret(created) {
    const secret = h("input", { type: "text", readonly: true, value: created.secret, "aria-label": "Signing secret", class: "secret", spellcheck: "false" });
    secret.addEventListener("focus", () => secret.select());
    const copied = h("span", { class: "muted", role: "status" });
    const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
      secret.select();
      try { await navigator.clipboard.writeText(created.secret); copied.textContent = "Copied."; }
      catch (_) { copied.textContent = "Selected: press Ctrl+C (⌘C) to copy."; }
    } }, "Copy");
    secretBox.replaceChildren(h("div", { class: "secret-box", role: "alert" },
      h("p", {}, h("strong", {}, "Webhook created. "), "Its signing secret is below. ",
        h("strong", {}, "Copy it now: you will not see it again."), " If you lose it, delete the webhook and add a new one."),
      h("div", { class: "secret-row" }, secret, copy, copied),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => secretBox.replaceChildren() }, "I have saved the secret"))));
    secret.focus();
  }

  function webhookItem(hook) {
    const result = h("div", { class: "hook-result", "aria-live": "polite" });
    const log = h("div", { class: "hook-log" });
    // Each action's outcome (or error) replaces the last one shown.
    const act = (label, run, cls = "secondary") => h("button", { type: "button", class: cls, onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try { await run(); }
      catch (err) { result.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorText(err))); }
      finally { button.disabled = false; }
    } }, label);
    const state = hook.enabled
      ? h("span", { class: "pill good" }, "enabled")
      : h("span", { class: "pill bad" }, "disabled");
    return h("li", { "data-webhook": hook.id },
      h("div", { class: "hook-head" }, h("span", { class: "hook-url" }, hook.url), state),
      hook.enabled ? null : h("p", { class: "form-error" }, `Disabled: ${hook.disabled_reason || "too many failed deliveries"}. Delete it and add it again to resume.`),
      h("p", { class: "meta" },
        hook.types ? `Types: ${hook.types.map((t) => t.replaceAll("_", " ")).join(", ")}` : "Types: all",
        ` · failed attempts in a row: ${hook.consecutive_failures}`,
        ` · added ${when(hook.created_at)}`),
      h("div", { class: "actions" },
        act("Send test", async () => {
          result.replaceChildren(h("p", { class: "muted" }, "Sending a test ping…"));
          const ping = await api("POST", `/api/webhooks/${hook.id}/test`);
          result.replaceChildren(ping.ok
            ? h("p", { class: "notice", role: "status" }, `Test ping delivered: your endpoint answered ${ping.status}.`)
            : h("p", { class: "form-error", role: "alert" }, `Test ping failed: ${ping.status ? `your endpoint answered ${ping.status}` : "no answer"}${ping.error ? ` (${ping.error})` : ""}.`));
        }),
        act("Delivery log", async () => { result.querySelectorAll(".form-error").forEach((e) => e.remove()); await drawLog(hook, log); }),
        act("Delete", async () => {
          if (!confirm(`Delete the webhook to ${hook.url}? Its delivery log goes with it.`)) return;
          result.replaceChildren();
          await api("DELETE", `/api/webhooks/${hook.id}`);
          await drawList();
        }, "danger")),
      result, log);
  }

  /** The delivery log, newest first, 20 at a time. */
  async function drawLog(hook, log) {
    const body = h("tbody");
    const more = h("button", { type: "button", class: "secondary" }, "Load older");
    const note = h("p", { class: "muted" });
    const table = h("div", { class: "scroll" }, h("table", { "aria-label": `Deliveries to ${hook.url}` },
      h("thead", {}, h("tr", {}, ["Event id", "Status", "Attempts", "Last attempt", "Last answer", "Outcome"].map((c) => h("th", {}, c)))),
      body));
    let cursor = null;
    async function load() {
      const query = new URLSearchParams({ limit: "20" });
      if (cursor) query.set("cursor", cursor);
      const page = await api("GET", `/api/webhooks/${hook.id}/deliveries?${query}`);
      body.append(...page.items.map((d) => h("tr", { "data-delivery": d.id },
        h("td", {}, d.activity_id),
        h("td", {}, h("span", { class: `pill ${d.status === "succeeded" ? "good" : d.status === "failed" ? "bad" : "wait"}` }, d.status)),
        h("td", {}, d.attempts),
        h("td", {}, d.last_attempt_at ? when(d.last_attempt_at) : "—"),
        h("td", {}, d.last_status ?? (d.last_attempt_at ? "no answer" : "—"), d.last_error ? h("div", { class: "meta" }, d.last_error) : null),
        h("td", {}, d.status === "succeeded" ? `delivered ${when(d.succeeded_at)}`
          : d.status === "pending" && d.next_attempt_at ? `next try ${when(d.next_attempt_at)}` : d.status === "failed" ? "given up" : "—"))));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      table.hidden = !body.children.length;
      note.textContent = body.children.length ? "" : "Nothing delivered yet: deliveries appear here once new activity happens.";
    }
    more.addEventListener("click", async () => {
      more.disabled = true;
      try { await load(); } catch (err) { note.textContent = errorText(err); } finally { more.disabled = false; }
    });
    await load();
    log.replaceChildren(
      h("div", { class: "hook-log-head" }, h("h3", {}, "Delivery log"),
        h("button", { type: "button", class: "link", onclick: () => drawLog(hook, log).catch((err) => { note.textContent = errorText(err); }) }, "Refresh"),
        h("button", { type: "button", class: "link", onclick: () => log.replaceChildren() }, "Hide")),
      table, note, h("div", { class: "actions" }, more));
  }

  const typeBoxes = h("fieldset", { class: "types", hidden: true }, h("legend", {}, "Deliver only these types"),
    ACTIVITY_TYPES.map((t) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: "types", value: t }), t.replaceAll("_", " "))));
  const choose = (only) => { typeBoxes.hidden = !only; };
  const create = form({ "aria-label": "New webhook" }, [
    field("Endpoint URL (https)", h("input", { type: "url", name: "url", required: true, autocomplete: "off" })),
    h("div", { role: "radiogroup", "aria-label": "Which activity" },
      h("label", { class: "inline" }, h("input", { type: "radio", name: "scope", value: "all", checked: true, onchange: () => choose(false) }), "All activity types"),
      h("label", { class: "inline" }, h("input", { type: "radio", name: "scope", value: "some", onchange: () => choose(true) }), "Only some types")),
    typeBoxes,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add webhook")),
  ], async (data, el) => {
    const body = { url: String(data.get("url") || "").trim() };
    if (data.get("scope") === "some") {
      body.types = data.getAll("types");
      if (!body.types.length) throw new Error("Tick at least one activity type, or choose all activity types.");
    }
    const created = await api("POST", "/api/webhooks", body);
    el.reset();
    choose(false);
    await drawList();
    showSecret(created);
  });
  card.append(h("h3", { class: "ruled" }, "Add a webhook"), create);
  await drawList();
  return card;
}

// ---------------------------------------------------------------- routing

async function route() {
  const { parts } = hashRoute();
  showNav();
  if (!token()) {
    if (parts[0] !== "signin") { location.hash = "#/signin"; return; }
    signIn();
    return;
  }
  live.start();
  try {
    switch (parts[0]) {
      case "": await activityPage(); break;
      case "playlists": await (parts[1] ? playlistPage(parts[1]) : playlistsPage()); break;
      case "schedules": await schedulesPage(); break;
      case "settings": await settingsPage(); break;
      case "signin": location.hash = "#/"; break;
      default: page("Not found", h("p", {}, "There is no such page. ", h("a", { href: "#/" }, "Go to your activity.")));
    }
  } catch (err) {
    if (err.status === 401) return;
    page("Something went wrong", h("p", { class: "form-error", role: "alert" }, err.message + (err.status === 404 ? " It may have been deleted." : "")),
      h("p", {}, h("a", { href: "#/" }, "Back to your activity")));
  }
}

window.addEventListener("hashchange", route);
route();
