// A fake Spotify for the browser test, in Node's standard library only:
// the consent page answers at once with a redirect back (as if the user
// agreed), the token endpoint checks PKCE, and the Web API serves the one
// account's playlists with paging and writes. The Rust suite has the full
// fake (tests/api/fake_spotify.rs); this one covers what a browser does.

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";

export const ACCOUNT = "browser-listener";

export async function startFakeSpotify() {
  const codes = new Map();
  const tokens = new Set();
  const playlists = new Map();
  let counter = 0;
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
      const code = `code${++counter}`;
      codes.set(code, url.searchParams.get("code_challenge"));
      const back = new URL(url.searchParams.get("redirect_uri"));
      back.searchParams.set("code", code);
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
    const info = (id, p) => ({ id, name: p.name, description: "", owner: { id: ACCOUNT }, collaborative: false,
      snapshot_id: `snap-${p.snapshot}`, tracks: { total: p.items.length } });
    let m;
    if (url.pathname === "/v1/me") return json(200, { id: ACCOUNT, display_name: "Browser Listener" });
    if (url.pathname === "/v1/me/playlists") {
      const items = [...playlists].map(([id, p]) => info(id, p));
      return json(200, { items, total: items.length, next: null });
    }
    if (url.pathname === "/v1/audio-features") return json(403, { error: { status: 403, message: "Forbidden" } });
    if ((m = url.pathname.match(/^\/v1\/playlists\/(\w+)(\/tracks)?$/))) {
      const p = playlists.get(m[1]);
      if (!p) return json(404, { error: { status: 404, message: "Not found" } });
      if (!m[2]) return json(200, info(m[1], p));
      if (req.method === "GET") {
        const offset = Number(url.searchParams.get("offset") || 0);
        const limit = Number(url.searchParams.get("limit") || 100);
        const items = p.items.slice(offset, offset + limit).map((uri) => ({ track: {
          uri, name: p.names[uri], artists: [{ name: "Fake Band" }], album: { name: "Fake Album" },
          duration_ms: 180000, is_local: false } }));
        const next = offset + limit < p.items.length ? `${base}/playlists/${m[1]}/tracks?offset=${offset + limit}&limit=${limit}` : null;
        return json(200, { items, total: p.items.length, next });
      }
      const uris = JSON.parse(body || "{}").uris || [];
      p.items = req.method === "PUT" ? uris : p.items.concat(uris);
      p.snapshot += 1;
      return json(200, { snapshot_id: `snap-${p.snapshot}` });
    }
    return json(404, { error: { status: 404, message: "Not found" } });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Adds a playlist of `names` (track ids t0, t1, ...). */
    addPlaylist(id, name, names) {
      const items = names.map((_, i) => `spotify:track:${id}t${i}`);
      playlists.set(id, { name, items, names: Object.fromEntries(items.map((u, i) => [u, names[i]])), snapshot: 1 });
    },
    /** The track names in Spotify's order. */
    order(id) {
      const p = playlists.get(id);
      return p.items.map((u) => p.names[u]);
    },
    close() { server.close(); },
  };
}
