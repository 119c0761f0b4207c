// Shuffify's web app in a real browser: Debian's chromium driven by
// playwright-core, against a live `shuffify serve` on a temp SQLite file
// (scheduler on, ticking every second; webhooks allowed to reach a
// receiver on 127.0.0.1 and nothing else). Run by scripts/browser-tests.sh,
// which sets SHUFFIFY_BIN; screenshots of each main page go to
// SCREENSHOT_DIR (default target/screenshots).

import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startFakeSpotify } from "./fake-spotify.mjs";

const BIN = process.env.SHUFFIFY_BIN;
const SHOTS = resolve(process.env.SCREENSHOT_DIR || "../../target/screenshots");
const PASSWORD = "correct horse battery";
let server, browser, base, dir, spotify, receiver;

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

before(async () => {
  assert.ok(BIN, "SHUFFIFY_BIN names the built binary");
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "shuffify-browser-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  spotify = await startFakeSpotify();
  server = spawn(BIN, ["serve"], {
    env: {
      ...process.env, DATABASE_URL: `sqlite://${join(dir, "app.db")}`, BIND_ADDR: `127.0.0.1:${port}`,
      SCHEDULER_ENABLED: "true", SCHEDULER_TICK_SECS: "1", RUST_LOG: "warn",
      SPOTIFY_CLIENT_ID: "browser-test", SPOTIFY_REDIRECT_URI: `${base}/api/providers/spotify/callback`,
      SPOTIFY_ACCOUNTS_URL: spotify.url, SPOTIFY_API_URL: `${spotify.url}/v1`,
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
      // Webhooks may reach the test's receiver on loopback, and nothing else.
      WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/health`)).ok) break; } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  spotify?.close();
  receiver?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = [];
/** Requests outside the API that failed (the page, its assets, its icon). */
const failed = [];

/** A new tab of its own (its own sessionStorage, so its own session); each
 *  test's tabs are closed after it, so their live streams end. */
async function tab(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  open.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => { throw err; });
  page.on("response", (res) => {
    const url = new URL(res.url());
    if (url.origin === base && !url.pathname.startsWith("/api/") && res.status() >= 400) failed.push(`${res.status()} ${url.pathname}`);
  });
  page.on("requestfailed", (req) => { if (new URL(req.url()).origin === base && !req.url().includes("/api/")) failed.push(`failed ${req.url()}`); });
  return page;
}

afterEach(async () => {
  while (open.length) await open.pop().close();
  assert.deepEqual(failed.splice(0), [], "no page, asset or icon request failed");
});

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Signs in through the form, from the keyboard. */
async function signIn(page, username) {
  await page.goto(`${base}/#/signin`);
  const form = page.locator("form", { has: page.getByRole("heading", { name: "Sign in" }) });
  await form.getByLabel("Username").focus();
  await page.keyboard.type(username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Activity" }).waitFor();
}

/** The API as the signed-in page sees it (its own token). */
function call(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const res = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${sessionStorage.getItem("shuffify.token")}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  }, [method, path, body]);
}

async function trackOrder(page) {
  return page.locator("table[aria-label=Tracks] tbody tr td:nth-child(2)").allTextContents();
}

const TRACKS = Array.from({ length: 12 }, (_, i) =>
  `web:${i} | Song ${i} | Artist ${i % 4} | Album ${i % 3} | ${80 + i * 7}`).join("\n");

test("signed out: no menu, and every request of the page answers (the icon too)", async () => {
  const page = await tab();
  const answers = [];
  page.on("response", (res) => answers.push([res.status(), new URL(res.url()).pathname]));
  await page.goto(base);
  await page.getByRole("heading", { name: "Welcome" }).waitFor();
  await page.waitForLoadState("networkidle");
  assert.ok(await page.locator("#nav").isHidden(), "no menu signed out");
  assert.ok(await page.locator("#signout").isHidden(), "no Sign out signed out");
  assert.equal(await page.getByRole("link", { name: "Settings" }).count(), 0, "no menu links");
  // Every element the app hides with `hidden` stays hidden, whatever its CSS.
  const shown = await page.evaluate(() => [...document.querySelectorAll("[hidden]")]
    .filter((el) => getComputedStyle(el).display !== "none").map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(shown, []);
  assert.deepEqual(answers.filter(([status]) => status >= 400), [], "no request failed");
  // The icon the page links, and the one browsers ask for unprompted.
  const icon = await page.locator("link[rel=icon]").getAttribute("href");
  for (const path of [icon, "/favicon.ico"]) {
    const res = await page.request.get(`${base}${path}`);
    assert.equal(res.status(), 200, path);
    assert.equal(res.headers()["content-type"], "image/svg+xml");
  }
});

test("register, create a playlist, shuffle: the row appears in the live feed without a reload", async () => {
  const feed = await tab();
  await feed.goto(base);
  await feed.getByRole("heading", { name: "Welcome" }).waitFor();
  await shot(feed, "signin");
  const register = feed.locator("form", { has: feed.getByRole("heading", { name: "Create an account" }) });
  // A bad username is shown next to its field.
  await register.getByLabel(/^Username/).fill("Alice");
  await register.getByLabel(/^Password/).fill(PASSWORD);
  await register.getByRole("button", { name: "Create account" }).click();
  await register.locator(".field-error", { hasText: "username" }).waitFor();
  await register.getByLabel(/^Username/).fill("alice");
  await register.getByRole("button", { name: "Create account" }).click();
  // Registering signs in: on to the activity page, the menu shown.
  await feed.getByRole("heading", { name: "Activity" }).waitFor();
  await feed.getByText("Welcome to Shuffify: your account is ready.").waitFor();
  assert.ok(await feed.locator("#nav").isVisible(), "the menu shows once signed in");
  await feed.getByText("Signed in as alice").waitFor();
  await feed.locator("[data-live].on").waitFor();

  // Another tab (its own session) creates and shuffles a playlist.
  const editor = await tab();
  await signIn(editor, "alice");
  await editor.goto(`${base}/#/playlists`);
  await editor.getByLabel("Name", { exact: true }).fill("Road Trip");
  await editor.getByLabel(/^Tracks/).fill(TRACKS);
  await editor.getByRole("button", { name: "Create playlist" }).click();
  await editor.getByRole("heading", { name: "Road Trip" }).waitFor();
  const shuffle = editor.locator("form[aria-label=Shuffle]");
  await shuffle.getByLabel("Algorithm").selectOption("tempo_gradient");
  await shuffle.getByLabel("direction").selectOption("descending");
  await shuffle.getByRole("button", { name: "Shuffle", exact: true }).click();
  await editor.locator("table[aria-label=Tracks] tbody tr").first().getByText("Song 11").waitFor();

  // The first tab, never reloaded, shows both rows as they happen.
  await feed.locator(".feed li.new", { hasText: "Shuffled" }).waitFor();
  await feed.locator(".feed li.new", { hasText: "Road Trip" }).first().waitFor();
  await shot(feed, "activity");
});

test("signing out and in again: the banner counts what happened since", async () => {
  const page = await tab();
  await signIn(page, "alice");
  const { body: playlists } = await call(page, "GET", "/api/playlists");
  await call(page, "POST", `/api/playlists/${playlists.items[0].id}/shuffle`, { algorithm: "basic", seed: 5 });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Welcome" }).waitFor();
  await signIn(page, "alice");
  const banner = page.locator(".banner [data-since-count]");
  await banner.waitFor();
  const { body: since } = await call(page, "GET", "/api/activity/since?since=last_login&limit=1");
  assert.ok(since.total >= 2, `${since.total}`);
  assert.equal(await banner.getAttribute("data-since-count"), String(since.total));
  assert.match(await banner.textContent(), new RegExp(`^${since.total} things happened since you last signed in`));
  await shot(page, "dashboard");
});

test("filters and load more walk the whole trail", async () => {
  const page = await tab();
  await signIn(page, "alice");
  for (let i = 0; i < 23; i++) await call(page, "POST", "/api/playlists", { name: `Bulk ${i}` });
  const { body: all } = await call(page, "GET", "/api/activity?page=1&limit=1");
  await page.reload();
  await page.getByRole("heading", { name: "Activity" }).waitFor();
  const items = page.locator(".feed li[data-id]");
  const more = page.getByRole("button", { name: "Load more" });
  await items.first().waitFor();
  while (await more.isVisible()) {
    const before = await items.count();
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll(".feed li[data-id]").length > n, before);
  }
  assert.equal(await items.count(), all.total);
  const ids = (await items.evaluateAll((els) => els.map((e) => Number(e.dataset.id))));
  assert.equal(new Set(ids).size, ids.length, "no row twice");

  // Only playlist creations, searched by name.
  await page.getByLabel("Types").selectOption(["playlist_create"]);
  await page.getByLabel("Search").fill("Bulk 1");
  await page.getByRole("button", { name: "Apply filters" }).click();
  // Not an empty list: `every` holds for one while the feed redraws.
  await page.waitForFunction(() => {
    const shown = [...document.querySelectorAll(".feed li[data-id]")];
    return shown.length > 0 && shown.every((li) => li.textContent.includes("Bulk 1"));
  });
  assert.equal(await items.count(), 11, "Bulk 1 and Bulk 10–19");
});

test("undo restores the order", async () => {
  const page = await tab();
  await signIn(page, "alice");
  await page.goto(`${base}/#/playlists`);
  await page.getByRole("link", { name: "Road Trip" }).click();
  await page.getByRole("heading", { name: "Road Trip" }).waitFor();
  const before = await trackOrder(page);
  const shuffle = page.locator("form[aria-label=Shuffle]");
  await shuffle.getByLabel("Algorithm").selectOption("basic");
  await shuffle.getByLabel(/^Seed/).fill("42");
  await shuffle.getByRole("button", { name: "Shuffle", exact: true }).click();
  await page.waitForFunction((b) => [...document.querySelectorAll("table[aria-label=Tracks] tbody tr td:nth-child(2)")]
    .map((td) => td.textContent).join() !== b, before.join());
  await shot(page, "playlist");
  await page.locator("form[aria-label=Shuffle]").getByRole("button", { name: "Undo" }).click();
  await page.waitForFunction((b) => [...document.querySelectorAll("table[aria-label=Tracks] tbody tr td:nth-child(2)")]
    .map((td) => td.textContent).join() === b, before.join());
  assert.deepEqual(await trackOrder(page), before);
});

test("remove duplicates after a preview, and a pinned track stays put through a shuffle", async () => {
  const page = await tab();
  await signIn(page, "alice");
  // Twelve tunes, with Tune 1 again fifth and Tune 5 again last.
  const tune = (i) => ({ uri: `dup:${i}`, name: `Tune ${i}`, artists: ["Kite Theory"] });
  const tracks = [0, 1, 2, 3, 1, 4, 5, 6, 7, 8, 9, 10, 11, 5].map(tune);
  const { body: created } = await call(page, "POST", "/api/playlists", { name: "Doubles", tracks });
  await page.goto(`${base}/#/playlists/${created.id}`);
  await page.getByRole("heading", { name: "Doubles" }).waitFor();

  const dedupe = page.locator("form[aria-label='Remove duplicates']");
  await dedupe.getByRole("button", { name: "Preview duplicates" }).click();
  const listed = dedupe.getByRole("list", { name: "Duplicates to remove" });
  await listed.waitFor();
  assert.deepEqual(await listed.locator("li").allTextContents(), ["#5 Tune 1 (dup:1)", "#14 Tune 5 (dup:5)"]);
  // The preview changed nothing.
  assert.equal((await trackOrder(page)).length, 14);
  assert.equal((await call(page, "GET", `/api/playlists/${created.id}`)).body.version, 1);
  await shot(page, "dedupe-preview");
  await dedupe.getByRole("button", { name: "Remove 2 duplicates" }).click();
  await page.getByText("Removed 2 duplicates.").waitFor();
  const deduped = Array.from({ length: 12 }, (_, i) => `Tune ${i}`);
  assert.deepEqual(await trackOrder(page), deduped);
  const { body: trail } = await call(page, "GET", "/api/activity?types=playlist_dedupe&limit=1");
  assert.equal(trail.items[0].metadata.removed, 2);

  // Pin the fifth track, then shuffle: it stays fifth while the rest moves.
  await page.getByRole("button", { name: "Pin Tune 4 (track 5)" }).click();
  await page.getByText("Pinned track 5").waitFor();
  const pin = page.getByRole("button", { name: "Pin Tune 4 (track 5)" });
  assert.equal(await pin.getAttribute("aria-pressed"), "true");
  assert.match(await page.locator("table[aria-label=Tracks] tbody tr").nth(4).getAttribute("class"), /pinned/);
  const shuffle = page.locator("form[aria-label=Shuffle]");
  await shuffle.getByLabel("Algorithm").selectOption("basic");
  await shuffle.getByLabel(/^Seed/).fill("42");
  await shuffle.getByRole("button", { name: "Shuffle", exact: true }).click();
  await page.waitForFunction((b) => [...document.querySelectorAll("table[aria-label=Tracks] tbody tr td:nth-child(2)")]
    .map((td) => td.textContent).join() !== b, deduped.join());
  const shuffled = await trackOrder(page);
  assert.equal(shuffled[4], "Tune 4", "the pinned track kept its place");
  assert.deepEqual([...shuffled].sort(), [...deduped].sort());
  await shot(page, "playlist-pins");
});

test("a stale edit answers 412, is shown, and recovers after a reload", async () => {
  const page = await tab();
  await signIn(page, "alice");
  await page.goto(`${base}/#/playlists`);
  await page.getByRole("link", { name: "Road Trip" }).click();
  await page.getByRole("heading", { name: "Road Trip" }).waitFor();
  // Meanwhile, someone else changes the playlist.
  const id = page.url().split("/").pop();
  await call(page, "POST", `/api/playlists/${id}/shuffle`, { algorithm: "basic", seed: 9 });
  const workshop = page.locator("form[aria-label=Workshop]");
  await workshop.getByRole("button", { name: "Move Song", exact: false }).nth(1).click();
  await workshop.getByRole("button", { name: "Commit order" }).click();
  const error = workshop.locator(".form-error");
  await error.waitFor();
  assert.match(await error.textContent(), /changed since it was read.*Reload it, then try again/);
  await workshop.getByRole("button", { name: "Reload the playlist" }).click();
  await page.locator("form[aria-label=Workshop] .form-error").waitFor({ state: "detached" });
  await page.locator("form[aria-label=Workshop]").getByRole("button", { name: "Commit order" }).click();
  await page.locator(".notice", { hasText: /Committed|already the order/ }).waitFor();
});

test("run a schedule now, and the scheduler's own run reaches the live feed", async () => {
  const feed = await tab();
  await signIn(feed, "alice");
  await feed.locator("[data-live].on").waitFor();
  const page = await tab();
  await signIn(page, "alice");
  await page.goto(`${base}/#/schedules`);
  const create = page.locator("form[aria-label='New schedule']");
  await create.getByLabel("Job").selectOption("shuffle");
  await create.getByLabel("Target playlist").selectOption({ label: "Road Trip · 12 tracks" });
  await create.getByLabel("Schedule type").selectOption("cron");
  // A cron the parser refuses is shown next to its field.
  await create.getByLabel(/^When/).fill("every tuesday");
  await create.getByRole("button", { name: "Create schedule" }).click();
  await create.locator(".field-error", { hasText: "schedule_value" }).waitFor();
  await create.getByLabel(/^When/).fill("* * * * *");
  await create.getByRole("button", { name: "Create schedule" }).click();
  const card = page.locator("form[aria-label^='Schedule ']").first();
  await card.waitFor();
  await card.getByRole("button", { name: "Run now" }).click();
  await page.locator("form[aria-label^='Schedule ']").first().getByText("last success").waitFor();
  await shot(page, "schedules");
  // The manual run is the user's; the next minute's is the scheduler's.
  await feed.locator(".feed li.new", { hasText: "Schedule" }).first().waitFor();
  await feed.locator(".feed li.new .tag.scheduler").first().waitFor({ timeout: 90_000 });
});

test("settings, and every page at phone width", async () => {
  const page = await tab();
  await signIn(page, "alice");
  await page.goto(`${base}/#/settings`);
  await page.getByLabel(/^Automatic snapshots kept/).fill("99");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator(".field-error", { hasText: "max_snapshots_per_playlist" }).waitFor();
  await page.getByLabel(/^Automatic snapshots kept/).fill("12");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Saved.").waitFor();
  await shot(page, "settings");
  await page.goto(`${base}/#/playlists`);
  await page.getByRole("heading", { name: "Your playlists" }).waitFor();
  await shot(page, "playlists");

  const phone = await tab(390);
  await signIn(phone, "alice");
  await shot(phone, "phone-activity");
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling at phone width (${width}px)`);
});

test("connect Spotify, import a playlist, and a shuffle reorders it on Spotify", async () => {
  spotify.addPlaylist("roadmix", "Spotify Road Mix", Array.from({ length: 8 }, (_, i) => `Tune ${i}`));
  spotify.addPlaylist("curated", "Someone's Curated Mix", ["Borrowed 1", "Borrowed 2"], "a-curator");
  const page = await tab();
  await signIn(page, "alice");
  await page.goto(`${base}/#/settings`);
  const authorized = page.waitForResponse((r) => r.url().endsWith("/api/providers/spotify/authorize"));
  await page.getByRole("button", { name: "Connect Spotify" }).click();
  // The app's fetch gets the cookie that binds the authorization to this
  // browser, scoped to the callback's path.
  const setCookie = await (await authorized).headerValue("set-cookie");
  for (const part of [/^shuffify_spotify=[\w-]{43}(;|$)/, /; HttpOnly/, /; SameSite=Lax/,
    /; Path=\/api\/providers\/spotify\/callback(;|$)/, /; Max-Age=600/]) {
    assert.match(setCookie, part);
  }
  assert.doesNotMatch(setCookie, /Secure/, "the redirect URI is http");
  // The fake's consent page sends the browser straight back; the callback
  // (with the cookie) stores the connection and redirects to the app,
  // still signed in, and clears the cookie.
  await page.getByRole("heading", { name: "Activity" }).waitFor();
  await page.locator(".feed li", { hasText: "Connected Spotify account browser-listener" }).first().waitFor();
  const jar = await page.context().cookies(`${base}/api/providers/spotify/callback`);
  assert.deepEqual(jar.filter((c) => c.name === "shuffify_spotify"), [], "the cookie is cleared");
  await page.goto(`${base}/#/settings`);
  await page.getByText("Connected as Browser Listener").waitFor();
  // A playlist the account only follows is greyed, says why, and offers no import.
  const followed = page.locator("[aria-label='Your Spotify playlists'] li", { hasText: "Someone's Curated Mix" });
  await followed.getByText("Spotify only lets this app read playlists you own or collaborate on").waitFor();
  assert.equal(await followed.getByRole("button").count(), 0, "no Import button for a followed playlist");
  assert.match(await followed.getAttribute("class"), /unreadable/);
  await page.locator("section[aria-label=Spotify]").screenshot({ path: join(SHOTS, "spotify-card.png") });
  const listed = page.locator("[aria-label='Your Spotify playlists'] li", { hasText: "Spotify Road Mix" });
  await listed.getByRole("button", { name: "Import" }).click();
  await page.getByRole("heading", { name: "Spotify Road Mix" }).waitFor();
  await page.getByText("linked to Spotify playlist roadmix").waitFor();
  assert.deepEqual(await trackOrder(page), spotify.order("roadmix"));
  const before = await trackOrder(page);
  const shuffle = page.locator("form[aria-label=Shuffle]");
  await shuffle.getByLabel("Algorithm").selectOption("basic");
  await shuffle.getByLabel(/^Seed/).fill("11");
  await shuffle.getByRole("button", { name: "Shuffle", exact: true }).click();
  await page.waitForFunction((b) => [...document.querySelectorAll("table[aria-label=Tracks] tbody tr td:nth-child(2)")]
    .map((td) => td.textContent).join() !== b, before.join());
  assert.deepEqual(spotify.order("roadmix"), await trackOrder(page), "Spotify holds the order the page shows");
  await shuffle.getByRole("button", { name: "Sync from Spotify" }).click();
  await page.getByText("Already in step with Spotify.").waitFor();
  await shot(page, "playlist-spotify");
  await page.goto(`${base}/#/settings`);
  await page.locator("[aria-label='Your Spotify playlists'] li", { hasText: "Spotify Road Mix" }).getByRole("link", { name: "Open" }).waitFor();
  await shot(page, "settings-spotify");
});

test("a Spotify account linked to another user is refused, and the settings page says so", async () => {
  const registered = await fetch(`${base}/api/auth/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "bob", password: PASSWORD }),
  });
  assert.equal(registered.status, 201);
  const page = await tab();
  await signIn(page, "bob");
  await page.goto(`${base}/#/settings`);
  // The fake consents as the account alice linked above.
  await page.getByRole("button", { name: "Connect Spotify" }).click();
  await page.getByText("This Spotify account is already linked to another Shuffify user.").waitFor();
  assert.equal(new URL(page.url()).hash, "#/settings", "the code is dropped from the address");
  await page.getByRole("button", { name: "Connect Spotify" }).waitFor();
  assert.equal((await call(page, "GET", "/api/providers/spotify")).body.connected, false);
  await shot(page, "settings-spotify-refused");
});

test("an item shows what changed and from where, and links to its session's trail", async () => {
  const page = await tab();
  await signIn(page, "alice");
  const { body: created } = await call(page, "POST", "/api/playlists", { name: "Road Trip Two" });
  await call(page, "PATCH", `/api/playlists/${created.id}`, { name: "Summer Road Trip", is_public: true });
  await page.reload();
  const item = page.locator(".feed li[data-id]", { hasText: "Updated playlist" }).first();
  await item.locator(".changes li", { hasText: "name: Road Trip Two → Summer Road Trip" }).waitFor();
  await item.locator(".changes li", { hasText: "is public: false → true" }).waitFor();
  // Headless Chromium says "HeadlessChrome/…".
  assert.match(await item.locator(".context").textContent(), /^from 127\.0\.0\.1 · Chrome · everything from this session$/);
  await shot(page, "activity-context");

  // The link lists that session's rows only: this tab's sign-in and edits.
  const { body: mine } = await call(page, "GET", "/api/activity?types=login&limit=1");
  const session = mine.items[0].context.session_id;
  await item.getByRole("link", { name: "everything from this session" }).click();
  await page.getByText(`Everything from session ${session}.`).waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".feed li[data-id]").length === 3);
  const shown = await page.locator(".feed li[data-id]").allTextContents();
  assert.ok(shown[0].includes("Updated playlist") && shown[2].includes("Logged in"), shown.join(" | "));
  await shot(page, "activity-session");
});

test("download my data, then delete my account with its password and name typed out", async () => {
  const reg = await fetch(`${base}/api/auth/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "leaver", password: PASSWORD }),
  });
  assert.equal(reg.status, 201);
  const page = await tab();
  await signIn(page, "leaver");
  await page.goto(`${base}/#/settings`);
  const card = page.locator("section[aria-label='Your data']");
  const downloaded = page.waitForEvent("download");
  await card.getByRole("button", { name: "Download my data" }).click();
  const download = await downloaded;
  assert.equal(download.suggestedFilename(), "shuffify-export-leaver.json");
  const document = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(document.user.username, "leaver");
  assert.ok(document.activity.some((row) => row.activity_type === "account_export"));
  await card.getByText("Your data was downloaded.").waitFor();

  // A wrong password says so, and keeps the session.
  await card.getByLabel("Your password").fill("not my password");
  await card.getByLabel(/^Type your username/).fill("leaver");
  await card.getByRole("button", { name: "Delete my account" }).click();
  await card.getByText("the password is wrong").waitFor();
  assert.equal(new URL(page.url()).hash, "#/settings");
  // The name typed wrong deletes nothing.
  await card.getByLabel("Your password").fill(PASSWORD);
  await card.getByLabel(/^Type your username/).fill("leave");
  await card.getByRole("button", { name: "Delete my account" }).click();
  await card.locator(".field-error", { hasText: "confirm" }).waitFor();
  await shot(page, "settings-your-data");
  await card.locator("section, form").last().screenshot({ path: join(SHOTS, "delete-account.png") });

  await card.getByLabel(/^Type your username/).fill("leaver");
  await card.getByRole("button", { name: "Delete my account" }).click();
  await page.getByText("Your account and everything in it were deleted.").waitFor();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot(page, "account-deleted");
  const login = await fetch(`${base}/api/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "leaver", password: PASSWORD }),
  });
  assert.equal(login.status, 401);
});

test("settings: profile, a password change, and signing out another browser", async () => {
  const reg = await fetch(`${base}/api/auth/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "traveler", password: PASSWORD }),
  });
  assert.equal(reg.status, 201);
  const laptop = await tab();
  const phone = await tab(390);
  await signIn(phone, "traveler");
  await signIn(laptop, "traveler");
  await laptop.goto(`${base}/#/settings`);
  const sessions = laptop.locator("section[aria-label='Sessions']");
  await sessions.locator("tbody tr").nth(1).waitFor();
  assert.equal(await sessions.locator("tbody tr").count(), 2);
  await sessions.locator("tbody tr").first().getByText("this device").waitFor();

  // The profile.
  const profile = laptop.locator("form[aria-label='Profile']");
  await profile.getByLabel(/^Display name/).fill("Tra Veler");
  await profile.getByLabel(/^Email/).fill("not-an-email");
  await profile.getByRole("button", { name: "Save profile" }).click();
  await profile.locator(".field-error", { hasText: "email" }).waitFor();
  await profile.getByLabel(/^Email/).fill("traveler@example.com");
  await profile.getByRole("button", { name: "Save profile" }).click();
  await profile.getByText("Profile saved.").waitFor();

  // Sign the phone out from here; the phone finds itself signed out.
  await sessions.getByRole("button", { name: "Sign out", exact: true }).click();
  await sessions.getByText("No other session is signed in.").waitFor();
  await phone.reload();
  await phone.getByRole("heading", { name: "Sign in" }).waitFor();

  // A wrong current password says so and keeps this session.
  await signIn(phone, "traveler");
  await laptop.reload();
  await sessions.getByRole("button", { name: "Sign out everywhere else" }).waitFor();
  const password = laptop.locator("form[aria-label='Password']");
  await password.getByLabel("Current password").fill("not my password");
  await password.getByLabel(/^New password \(/).fill("a brand new password");
  await password.getByLabel("New password again").fill("a brand new password");
  await password.getByRole("button", { name: "Change password" }).click();
  await password.getByText("the password is wrong").waitFor();
  assert.equal(new URL(laptop.url()).hash, "#/settings");
  await shot(laptop, "settings-account");

  // The right one: the other sessions end, this one stays.
  await password.getByLabel("Current password").fill(PASSWORD);
  await password.getByRole("button", { name: "Change password" }).click();
  await password.getByText(/Every other device and browser was signed out/).waitFor();
  await sessions.getByText("No other session is signed in.").waitFor();
  await phone.reload();
  await phone.getByRole("heading", { name: "Sign in" }).waitFor();
  await laptop.reload();
  await laptop.getByRole("heading", { name: "Settings" }).waitFor();
  const me = await call(laptop, "GET", "/api/me");
  assert.equal(me.status, 200);
  assert.equal(me.body.display_name, "Tra Veler");
  const rows = await call(laptop, "GET", "/api/activity?types=password_change,profile_update,logout");
  assert.deepEqual(rows.body.items.map((r) => r.activity_type), ["password_change", "logout", "profile_update"]);
});

/** A webhook receiver on loopback: answers 204 and keeps each request. */
async function startReceiver() {
  const got = [];
  const http = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      got.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise((ok) => http.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${http.address().port}/hook`, got, close: () => http.close() };
}

test("webhooks: add one, its secret shown once, a test ping, a delivery in the log, delete", async () => {
  receiver = await startReceiver();
  const registered = await fetch(`${base}/api/auth/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "wendy", password: PASSWORD }),
  });
  assert.equal(registered.status, 201);
  const page = await tab();
  await signIn(page, "wendy");
  await page.goto(`${base}/#/settings`);
  const card = page.locator("section[aria-label=Webhooks]");
  await card.getByText("No webhooks yet.").waitFor();
  const create = card.locator("form[aria-label='New webhook']");
  // A refused address is shown next to its field.
  await create.getByLabel(/^Endpoint URL/).fill("https://10.0.0.1/hook");
  await create.getByRole("button", { name: "Add webhook" }).click();
  await create.locator(".field-error", { hasText: "url" }).waitFor();
  // Only some types, none ticked: said in words, nothing sent.
  await create.getByLabel(/^Endpoint URL/).fill(receiver.url);
  await create.getByLabel("Only some types").check();
  await create.getByRole("button", { name: "Add webhook" }).click();
  await create.getByText("Tick at least one activity type").waitFor();
  await create.screenshot({ path: join(SHOTS, "webhooks-form.png") });
  await create.getByLabel("playlist create").check();
  await create.getByLabel("shuffle", { exact: true }).check();
  await create.getByRole("button", { name: "Add webhook" }).click();

  // The secret, once, with the warning.
  const secretBox = card.locator(".secret-box");
  await secretBox.getByText("you will not see it again").waitFor();
  const secret = await secretBox.getByLabel("Signing secret").inputValue();
  assert.match(secret, /^whsec_/);
  const item = card.locator(".hooks li[data-webhook]");
  await item.getByText(receiver.url).waitFor();
  await item.getByText("Types: shuffle, playlist create").waitFor();
  await item.getByText("enabled", { exact: true }).waitFor();
  await card.screenshot({ path: join(SHOTS, "webhooks-secret.png") });
  await secretBox.getByRole("button", { name: "I have saved the secret" }).click();
  await secretBox.waitFor({ state: "detached" });
  await page.reload();
  await card.locator(".hooks li[data-webhook]").waitFor();
  assert.equal(await card.getByText(secret).count(), 0, "the secret is not shown again");
  assert.ok(!(await page.content()).includes(secret), "nor anywhere on the page");

  // A test ping reaches the receiver, and its outcome is shown.
  await item.getByRole("button", { name: "Send test" }).click();
  await item.getByText("Test ping delivered: your endpoint answered 204.").waitFor();
  const ping = receiver.got.find((r) => r.body.activity_type === "webhook_test");
  assert.ok(ping, "the receiver got the ping");
  assert.match(ping.headers["shuffify-event-id"], /^test-/);
  assert.match(ping.headers["shuffify-signature"], /^t=\d+,v1=[0-9a-f]{64}$/);

  // A playlist created now is delivered and listed in the log.
  await call(page, "POST", "/api/playlists", { name: "Hooked" });
  for (let i = 0; i < 100 && !receiver.got.some((r) => r.body.activity_type === "playlist_create"); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const delivered = receiver.got.find((r) => r.body.activity_type === "playlist_create");
  assert.ok(delivered, "the row was delivered");
  await item.getByRole("button", { name: "Delivery log" }).click();
  const row = item.locator(`tr[data-delivery]`, { hasText: String(delivered.body.id) });
  for (let i = 0; i < 50 && !(await row.getByText("succeeded").count()); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await item.getByRole("button", { name: "Refresh" }).click();
  }
  await row.getByText("succeeded").waitFor();
  await row.getByText("204").waitFor();
  await item.getByText("Test ping delivered").waitFor();
  await card.screenshot({ path: join(SHOTS, "webhooks-card.png") });

  // Delete asks first; dismissed, nothing changes; accepted, it is gone.
  page.once("dialog", (dialog) => dialog.dismiss());
  await item.getByRole("button", { name: "Delete" }).click();
  await item.waitFor();
  page.once("dialog", (dialog) => dialog.accept());
  await item.getByRole("button", { name: "Delete" }).click();
  await card.getByText("No webhooks yet.").waitFor();
  assert.equal((await call(page, "GET", "/api/webhooks")).body.items.length, 0);
  await shot(page, "settings-webhooks");
  // At phone width the card fits without sideways scrolling.
  const phone = await tab(390);
  await signIn(phone, "wendy");
  await call(phone, "POST", "/api/webhooks", { url: `${receiver.url}/a/rather/long/path/that/must/wrap/somewhere` });
  await phone.goto(`${base}/#/settings`);
  await phone.locator("section[aria-label=Webhooks] .hooks li[data-webhook]").waitFor();
  await phone.locator("section[aria-label=Webhooks]").getByRole("button", { name: "Delivery log" }).click();
  await phone.locator("section[aria-label=Webhooks]").getByText("Nothing delivered yet").waitFor();
  const seen = receiver.got.length;
  await call(phone, "POST", "/api/playlists", { name: "Hooked on the phone" });
  for (let i = 0; i < 100 && receiver.got.length === seen; i++) await new Promise((r) => setTimeout(r, 100));
  await phone.locator("section[aria-label=Webhooks]").getByRole("button", { name: "Refresh" }).click();
  await phone.locator("section[aria-label=Webhooks] tr[data-delivery]").first().waitFor();
  await phone.locator("section[aria-label=Webhooks]").screenshot({ path: join(SHOTS, "webhooks-phone.png") });
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling at phone width (${width}px)`);
});

test("pickers tell same-named playlists apart, and Create schedule is disabled at 5 with the reason", async () => {
  const page = await tab();
  await signIn(page, "alice");
  const twins = [];
  for (const tracks of [[{ uri: "twin:1", name: "One" }, { uri: "twin:2", name: "Two" }], [{ uri: "twin:1", name: "One" }, { uri: "twin:2", name: "Two" }]]) {
    const { status, body } = await call(page, "POST", "/api/playlists", { name: "Twin Mix", tracks });
    assert.equal(status, 201);
    twins.push(body.id);
  }
  await page.goto(`${base}/#/schedules`);
  const create = page.locator("form[aria-label='New schedule']");
  const target = create.getByLabel("Target playlist");
  await target.locator("option", { hasText: "Twin Mix" }).first().waitFor({ state: "attached" });
  const labels = await target.locator("option", { hasText: "Twin Mix" }).allTextContents();
  assert.deepEqual(labels.sort(), twins.map((id) => `Twin Mix · 2 tracks · id ${id.slice(0, 6)}`).sort());
  const sources = await create.getByLabel("Sources (for raids)").locator("option", { hasText: "Twin Mix" }).allTextContents();
  assert.deepEqual(sources.sort(), labels.sort(), "the same names in every picker");
  // A playlist with a name of its own has no id in its label.
  assert.ok((await target.locator("option").allTextContents()).some((l) => /^Road Trip · \d+ tracks$/.test(l)));
  // The upstream sources' picker on a playlist's page says the same.
  await page.goto(`${base}/#/playlists/${twins[0]}`);
  const own = page.locator("form[aria-label='Upstream sources']").getByLabel("One of your playlists");
  await own.locator("option", { hasText: "Twin Mix" }).first().waitFor({ state: "attached" });
  assert.deepEqual(await own.locator("option", { hasText: "Twin Mix" }).allTextContents(),
    [`Twin Mix · 2 tracks · id ${twins[1].slice(0, 6)}`]);

  // Up to the cap of 5 schedules, then the button says why it is off.
  const { body: existing } = await call(page, "GET", "/api/schedules");
  for (let i = existing.items.length; i < 5; i++) {
    const { status } = await call(page, "POST", "/api/schedules", { job_type: "shuffle", target_playlist_id: twins[i % 2], algorithm_name: "basic" });
    assert.equal(status, 201);
  }
  await page.goto(`${base}/#/playlists`);
  await page.goto(`${base}/#/schedules`);
  const button = page.locator("form[aria-label='New schedule']").getByRole("button", { name: "Create schedule" });
  await button.waitFor();
  assert.ok(await button.isDisabled(), "disabled at the cap");
  const note = page.locator("form[aria-label='New schedule'] .cap-note");
  assert.equal(await note.textContent(), "You have 5 schedules, the most an account keeps. Delete one to create another.");
  assert.equal(await button.getAttribute("aria-describedby"), await note.getAttribute("id"));
  await shot(page, "schedules-at-cap");
  // Deleting one enables it again.
  await page.locator("form[aria-label^='Schedule ']").first().getByRole("button", { name: "Delete" }).click();
  await page.waitForFunction(() => document.querySelectorAll("form[aria-label^='Schedule ']").length === 4);
  await page.locator("form[aria-label='New schedule']").getByRole("button", { name: "Create schedule" }).waitFor();
  assert.ok(await page.locator("form[aria-label='New schedule']").getByRole("button", { name: "Create schedule" }).isEnabled());
  assert.equal(await page.locator(".cap-note").count(), 0);
});

test("cancelling at Spotify comes back to Settings with the reason in words", async () => {
  const page = await tab();
  await signIn(page, "bob");
  await page.goto(`${base}/#/settings`);
  spotify.cancelNext();
  const callback = page.waitForResponse((r) => r.url().includes("/api/providers/spotify/callback"));
  await page.getByRole("button", { name: "Connect Spotify" }).click();
  const answer = await callback;
  assert.equal(answer.status(), 303);
  assert.equal(answer.headers().location, "/#/settings?spotify_error=access_denied");
  await page.getByText("Spotify was not connected: the authorization was declined on Spotify's page.").waitFor();
  assert.equal(new URL(page.url()).hash, "#/settings", "the code is dropped from the address");
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  assert.equal((await call(page, "GET", "/api/providers/spotify")).body.connected, false);
  await shot(page, "settings-spotify-cancelled");
});

test("rotation: a size and an archive set on the playlist page, a bad size shown by its field, then off", async () => {
  const page = await tab();
  await page.goto(`${base}/#/signin`);
  const registered = await page.evaluate(async (password) => (await fetch("/api/auth/register", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "rosa", password }),
  })).status, PASSWORD);
  assert.equal(registered, 201);
  await signIn(page, "rosa");
  const made = [];
  for (const name of ["Daily Mix", "Daily Mix archive"]) {
    const { status, body } = await call(page, "POST", "/api/playlists", { name, tracks: [{ uri: `rot:${made.length}`, name: "Song" }] });
    assert.equal(status, 201);
    made.push(body.id);
  }
  await page.goto(`${base}/#/playlists/${made[0]}`);
  const rotation = page.locator("form[aria-label=Rotation]");
  await rotation.locator("[data-rotation=off]").waitFor();
  await rotation.getByLabel(/^Most tracks/).fill("0");
  await rotation.getByRole("button", { name: "Save rotation" }).click();
  await rotation.locator(".field-error", { hasText: "rotation.max_tracks" }).waitFor();
  await rotation.getByLabel(/^Most tracks/).fill("25");
  await rotation.getByLabel(/^Archive/).selectOption(made[1]);
  await rotation.getByRole("button", { name: "Save rotation" }).click();
  await page.locator(".notice", { hasText: "Rotation saved." }).waitFor();
  const on = page.locator("form[aria-label=Rotation] [data-rotation=on]");
  assert.match(await on.textContent(), /keeps at most 25 tracks.*"Daily Mix archive"/);
  const { body } = await call(page, "GET", `/api/playlists/${made[0]}`);
  assert.deepEqual(body.rotation, { max_tracks: 25, archive_playlist_id: made[1] });
  await shot(page, "rotation");
  await page.locator("form[aria-label=Rotation]").getByRole("button", { name: "Turn off" }).click();
  await page.locator(".notice", { hasText: "Rotation turned off." }).waitFor();
  await page.locator("form[aria-label=Rotation] [data-rotation=off]").waitFor();
  assert.equal((await call(page, "GET", `/api/playlists/${made[0]}`)).body.rotation, null);
});
