// A fake Spotify for the browser test, in Node's standard library only:
// the consent page answers at once with a redirect back (as if the user
// agreed; or, after cancelNext(), as if they pressed Cancel), the token
// endpoint checks PKCE, and the Web API serves the one
// account's playlists with paging and writes. The Rust suite has the full
// fake (tests/api/fake_spotify.rs); this one covers what a browser does.
//
// It follows Spotify's Web API reference as Spotify serves it to an app in
// development mode, per Spotify's "February 2026 Web API Dev Mode Changes
// – Migration Guide" (February 2026; in force for existing apps since
// 9 March 2026): a playlist's items at /v1/playlists/{id}/items, each entry
// {added_at, item, is_local}, a playlist object with items: {total, href},
// pages of 1–50 items (another limit answers 400), 403 for the items of a
// playlist the account neither owns nor collaborates on, and 403 for the
// removed paths (/playlists/{id}/tracks, /users/{id}/playlists,
// /audio-features).

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";

export const ACCOUNT = "browser-listener";

export async function startFakeSpotify() {
  const codes = new Map();
  const tokens = new Set();
  const playlists = new Map();
  let counter = 0;
  let cancel = false;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://fake");
    const body = await new Promise((ok) => {
      let data = "";
      req.on("data", (c) => { data += c; });
      req.on("end", () => ok(data));
    });
    const json = (status, value) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === "/authorize") {
      const back = new URL(url.searchParams.get("redirect_uri"));
      if (cancel) {
        // Spotify's answer to Cancel on its consent page.
        cancel = false;
        back.searchParams.set("error", "access_denied");
      } else {
        const code = `code${++counter}`;
        codes.set(code, url.searchParams.get("code_challenge"));
        back.searchParams.set("code", code);
      }
      back.searchParams.set("state", url.searchParams.get("state"));
      res.writeHead(302, { Location: back.toString() });
      return res.end();
    }
    if (url.pathname === "/api/token") {
      const form = new URLSearchParams(body);
      if (form.get("grant_type") === "authorization_code") {
        const challenge = codes.get(form.get("code"));
        codes.delete(form.get("code"));
        const computed = createHash("sha256").update(form.get("code_verifier") || "").digest("base64url");
        if (!challenge || computed !== challenge) return json(400, { error: "invalid_grant" });
      }
      const access = `access-${randomBytes(8).toString("hex")}`;
      tokens.add(access);
      return json(200, { access_token: access, token_type: "Bearer", expires_in: 3600,
        refresh_token: `refresh-${randomBytes(8).toString("hex")}`,
        scope: "playlist-read-private playlist-modify-private playlist-modify-public" });
    }
    const auth = (req.headers.authorization || "").replace(/^Bearer /, "");
    if (!tokens.has(auth)) return json(401, { error: { status: 401, message: "The access token expired" } });
    const base = `http://127.0.0.1:${server.address().port}/v1`;
    const forbidden = () => json(403, { error: { status: 403, message: "Forbidden" } });
    const info = (id, p) => ({ id, name: p.name, description: "", owner: { id: p.owner }, collaborative: false,
      snapshot_id: `snap-${p.snapshot}`, items: { total: p.items.length, href: `${base}/playlists/${id}/items` } });
    let m;
    if (url.pathname === "/v1/me") return json(200, { id: ACCOUNT, display_name: "Browser Listener" });
    if (url.pathname === "/v1/me/playlists") {
      const items = [...playlists].map(([id, p]) => info(id, p));
      return json(200, { items, total: items.length, next: null });
    }
    if (url.pathname === "/v1/audio-features" || url.pathname.startsWith("/v1/users/")) return forbidden();
    if ((m = url.pathname.match(/^\/v1\/playlists\/(\w+)(\/items|\/tracks)?$/))) {
      if (m[2] === "/tracks") return forbidden();
      const p = playlists.get(m[1]);
      if (!p) return json(404, { error: { status: 404, message: "Not found" } });
      if (!m[2]) return json(200, info(m[1], p));
      if (p.owner !== ACCOUNT) return forbidden();
      if (req.method === "GET") {
        const offset = Number(url.searchParams.get("offset") || 0);
        const limit = Number(url.searchParams.get("limit") || 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 50) return json(400, { error: { status: 400, message: "Invalid limit" } });
        const items = p.items.slice(offset, offset + limit).map((uri) => ({ added_at: "2026-01-01T00:00:00Z", is_local: false, item: {
          uri, name: p.names[uri], artists: [{ name: "Fake Band" }], album: { name: "Fake Album" },
          duration_ms: 180000, is_local: false, type: "track" } }));
        const next = offset + limit < p.items.length ? `${base}/playlists/${m[1]}/items?offset=${offset + limit}&limit=${limit}` : null;
        return json(200, { items, total: p.items.length, next });
      }
      const sent = JSON.parse(body || "{}");
      const uris = sent.uris || [];
      if (req.method === "DELETE") {
        const gone = new Set((sent.items || []).map((i) => i.uri));
        p.items = p.items.filter((u) => !gone.has(u));
      } else {
        p.items = req.method === "PUT" ? uris : p.items.concat(uris);
      }
      p.snapshot += 1;
      return json(200, { snapshot_id: `snap-${p.snapshot}` });
    }
    return json(404, { error: { status: 404, message: "Not found" } });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Adds a playlist of `names` (track ids t0, t1, ...), the account's own
     * unless another `owner` is named (a playlist it only follows). */
    addPlaylist(id, name, names, owner = ACCOUNT) {
      const items = names.map((_, i) => `spotify:track:${id}t${i}`);
      playlists.set(id, { name, owner, items, names: Object.fromEntries(items.map((u, i) => [u, names[i]])), snapshot: 1 });
    },
    /** The next consent is cancelled by the user. */
    cancelNext() { cancel = true; },
    /** The track names in Spotify's order. */
    order(id) {
      const p = playlists.get(id);
      return p.items.map((u) => p.names[u]);
    },
    close() { server.close(); },
  };
}
