// The one client all three apps use: log-in, the WebSocket session (hello with
// resume_from, welcome with a snapshot or the missed events), commands with
// client-side ids matched to their results, reconnect with jittered backoff, an
// offline queue that survives a reload, and a local store kept current by events.
//
// Why the outbox holds every command until its result arrives (not only the ones made
// offline): a command sent just before the socket dropped may or may not have reached
// the hub. Resending it with the same id is safe — the hub answers a repeated id with
// the first result and appends nothing — so "resend everything unanswered" is both
// simple and exactly-once.

import { emptyStore, complete, fromSnapshot, applyEvent, missingIncident, putIncident } from './store.js';
import { exerciseBanner } from './exercise.js';

// Every app imports this module: in exercise mode, each page shows the EXERCISE banner.
if (typeof document !== 'undefined') exerciseBanner();
// Every app's header shows the centre's name and logo from its settings.
import './settings.js';

// Every key the apps keep in localStorage or sessionStorage starts with this prefix
// (the session, each user's saved store, outbox and board alerts): log-out and an
// ended session remove them all, so the next person at this browser finds nothing.
const PREFIX = 'muster.';
const SESSION_KEY = `${PREFIX}session`;

/** The storage key of `name` (e.g. `outbox`) for user `userId`. */
export function userKey(userId, name) {
  return `${PREFIX}${userId}.${name}`;
}

/** Removes every key the apps keep, in both storages; answers how many were removed. */
export function forgetEverything() {
  let removed = 0;
  for (const storage of [localStorage, sessionStorage]) {
    for (const key of Object.keys(storage)) {
      if (key.startsWith(PREFIX)) {
        storage.removeItem(key);
        removed += 1;
      }
    }
  }
  return removed;
}

// Commands that carry a password: never written to storage, never queued offline.
const SECRET_COMMANDS = ['user.password', 'user.create'];

// ----- log-in ---------------------------------------------------------------------

/** The session of this tab, `{token, user, expires_at}`, or null. */
export function currentSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && Date.parse(s.expires_at) > Date.now()) return s;
  } catch { /* a corrupt entry is treated as logged out */ }
  return null;
}

/**
 * `POST /api/login`; keeps the token for this tab only (sessionStorage). A hub busy
 * checking other log-ins (503 with `Retry-After`, as at a shift change) is asked again
 * after the time it names, for up to a minute; `onWait(seconds)` is told each time.
 */
export async function login(username, password, onWait = () => {}) {
  const giveUp = Date.now() + 60_000;
  for (;;) {
    const res = await fetch('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await res.json().catch(() => ({}));
    const wait = Number(res.headers.get('retry-after'));
    if (res.status === 503 && wait > 0 && Date.now() + wait * 1000 < giveUp) {
      onWait(wait);
      await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    if (!res.ok) throw new Error(body.error?.message || `log-in failed (${res.status})`);
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(body));
    return body;
  }
}

/**
 * Finishes a single sign-on: the one-time code from the callback's `#sso=` fragment
 * is exchanged for the session `login()` would have stored (plus `next`), stored the
 * same way.
 */
export async function exchangeSso(code) {
  const res = await fetch('/api/auth/oidc/exchange', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message || `sign-in failed (${res.status})`);
  const { next, ...session } = body;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return { session, next };
}

/** Forgets the token and everything the apps kept (and tells the hub when it can). */
export async function logout() {
  const s = currentSession();
  forgetEverything();
  if (s) await fetch('/api/logout', { method: 'POST', headers: { authorization: `Bearer ${s.token}` } }).catch(() => {});
}

/** The app a role belongs in. */
export function homeFor(role) {
  return { operator: '/console', supervisor: '/board', admin: '/admin', field: '/field' }[role] || '/';
}

/** The session, or a trip to the log-in page that comes back here afterwards. */
export function requireSession(roles) {
  const s = currentSession();
  if (!s || (roles && !roles.includes(s.user.role))) {
    location.replace(`/?next=${encodeURIComponent(location.pathname)}`);
    return null;
  }
  return s;
}

/** Authenticated GET of the API as JSON. */
export async function api(path) {
  const s = currentSession();
  const res = await fetch(path, { headers: { authorization: `Bearer ${s?.token}` } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message || `${path}: ${res.status}`);
  return body;
}

/**
 * Authenticated GET that answers the raw Response (CSV, HTML), for downloads. Throws
 * an Error with `status` when the hub refuses, carrying the hub's message when it has one.
 */
export async function apiRaw(path, accept) {
  const s = currentSession();
  const res = await fetch(path, { headers: { authorization: `Bearer ${s?.token}`, accept } });
  if (res.ok) return res;
  const body = await res.json().catch(() => ({}));
  const err = new Error(body.error?.message || `${path}: ${res.status}`);
  err.status = res.status;
  throw err;
}

/** A unique command id; randomUUID needs a secure context, so fall back on plain http. */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// ----- the session ------------------------------------------------------------------

/** A failed command: `code` is the protocol's error code. */
export class CommandError extends Error {
  constructor(error) {
    super(error?.message || 'command refused');
    this.code = error?.code || 'unknown';
    // For procedure_violation: the rule not met (e.g. required_questions).
    this.rule = error?.rule;
  }
}

export class Client {
  /** `session` from log-in; `onChange(frame|null)` is called after each change. */
  constructor(session) {
    this.session = session;
    this.user = session.user;
    this.keys = { saved: userKey(session.user.id, 'saved'), outbox: userKey(session.user.id, 'outbox') };
    this.ended = false; // once the session ended nothing is saved again
    this.listeners = new Set();
    this.pending = new Map(); // command id → {resolve, reject}
    this.fetching = new Map(); // incident id → touched again while being fetched
    this.outbox = load(this.keys.outbox, []);
    const saved = load(this.keys.saved, null);
    // The store and its seq are saved together, so resuming from that seq is exact.
    this.store = saved?.store ? complete(saved.store) : emptyStore();
    this.seq = saved?.seq ?? null;
    this.state = 'connecting';
    this.resumed = null;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    addEventListener('online', () => this.connectSoon(0));
    addEventListener('offline', () => this.goOffline());
    addEventListener('pagehide', () => this.save());
  }

  /** Calls `fn(frame)` after every applied event (and `fn(null)` on other changes). */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(frame) {
    for (const fn of this.listeners) {
      try { fn(frame); } catch (e) { console.warn('muster: listener failed', e); }
    }
  }

  connect() {
    clearTimeout(this.timer);
    if (this.ws || this.ended) return;
    if (!navigator.onLine) return this.setState('offline');
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: 'hello', token: this.session.token };
      if (this.seq != null) hello.resume_from = this.seq;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (m) => this.onFrame(JSON.parse(m.data));
    ws.onclose = (ev) => this.onClose(ws, ev.code);
  }

  /** Reconnect after `delay` ms, or with jittered exponential backoff. */
  connectSoon(delay) {
    clearTimeout(this.timer);
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    // Jitter spreads a whole floor reconnecting after a hub restart.
    const wait = delay ?? base * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  onClose(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.attempt += 1;
    if (code === 4401) {
      // Token expired or revoked: whoever comes next must log in, and finds nothing of
      // this user's here (the snapshot, the outbox); the log-in page says how many
      // unsent commands were dropped, so they can be made again.
      this.endSession();
      return;
    }
    if (code === 4409) {
      // Too far behind to resume: start again from a snapshot.
      this.seq = null;
    }
    if (!navigator.onLine) return this.setState('offline');
    this.setState('reconnecting');
    this.connectSoon();
  }

  /** What an app keeps for this user across reloads under `name` (board alerts). */
  kept(name, fallback) {
    return load(userKey(this.user.id, name), fallback);
  }

  /** Keeps `value` under `name` for this user, unless the session has ended. */
  keep(name, value) {
    if (!this.ended) store(userKey(this.user.id, name), value);
  }

  /**
   * Stops for good (log-out): closes the socket, cancels timers, and saves nothing
   * more, so nothing written after the storage is cleared brings a key back.
   */
  stop() {
    this.ended = true;
    clearTimeout(this.saveTimer);
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = null;
      ws.close();
    }
  }

  /** The session ended: forget everything kept, then go to the log-in page. */
  endSession() {
    const unsent = this.outbox.length;
    this.stop();
    forgetEverything();
    const q = new URLSearchParams({ next: location.pathname, expired: '1' });
    if (unsent) q.set('unsent', String(unsent));
    location.replace(`/?${q}`);
  }

  /** The network is gone: drop the socket now rather than wait for it to time out. */
  goOffline() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = null;
      if (ws.readyState === WebSocket.OPEN) ws.close();
    }
    this.setState('offline');
  }

  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        this.attempt = 0;
        this.resumed = f.resumed;
        this.user = f.user || this.user;
        if (!f.resumed) {
          this.store = fromSnapshot(f.snapshot || {});
          this.seq = f.seq;
        }
        this.save();
        this.setState('live');
        this.flush();
        break;
      case 'event':
        if (this.seq != null && f.seq <= this.seq) return; // already applied
        applyEvent(this.store, f);
        this.fetchIfMissing(f);
        this.seq = f.seq;
        // An erasure rewrites the saved copy at once: it must not keep what was erased.
        if (f.event.kind === 'privacy.erased' || f.event.kind === 'privacy.swept') this.save();
        else this.saveSoon();
        this.notify(f);
        break;
      case 'result': this.onResult(f); break;
      default: break;
    }
  }

  /**
   * An event about an incident the store lacks (one finished before the snapshot's
   * `closed_since`, touched again): fetch it. Events that arrive while it is being
   * fetched may be newer than the answer, so it is fetched again after them.
   */
  fetchIfMissing(f) {
    const id = missingIncident(this.store, f);
    if (!id) return;
    if (this.fetching.has(id)) {
      this.fetching.set(id, true);
      return;
    }
    this.fetching.set(id, false);
    api(`/api/incidents/${encodeURIComponent(id)}`)
      .then((detail) => {
        if (this.fetching.get(id)) return; // touched meanwhile: fetched again below
        putIncident(this.store, detail);
        this.saveSoon();
        this.notify(null);
      })
      .catch((e) => console.warn('muster: cannot fetch', id, e))
      .finally(() => {
        const again = this.fetching.get(id);
        this.fetching.delete(id);
        if (again) this.fetchIfMissing({ event: { incident_id: id } });
      });
  }

  onResult(f) {
    if (f.id == null) {
      console.warn('muster: the hub refused a frame', f.error);
      return;
    }
    this.outbox = this.outbox.filter((c) => c.id !== f.id);
    this.saveOutbox();
    const p = this.pending.get(f.id);
    this.pending.delete(f.id);
    if (p) (f.ok ? p.resolve(f.data || {}) : p.reject(new CommandError(f.error)));
    this.notify(null);
  }

  /**
   * Sends a command `{kind, …}`; resolves with the result's `data` or rejects with a
   * CommandError. Offline, the command waits in the outbox (kept across reloads).
   */
  command(command) {
    if (SECRET_COMMANDS.includes(command.kind) && this.state !== 'live') {
      // A queued password would sit in localStorage in plain text: refuse instead.
      return Promise.reject(new CommandError({ code: 'offline', message: 'a password is never queued offline; try again once the connection is live' }));
    }
    // The same command made again while the first is unanswered is the same intent
    // (a second press, a retry): it reuses the id, so the hub acts once.
    const same = JSON.stringify(command);
    const waiting = this.outbox.find((c) => JSON.stringify(c.command) === same);
    if (waiting && this.pending.has(waiting.id)) return this.pending.get(waiting.id).promise;
    if (waiting) return this.awaitEntry(waiting); // kept from before a reload
    const entry = { id: newId(), command };
    this.outbox.push(entry);
    this.saveOutbox();
    const promise = this.awaitEntry(entry);
    if (this.state === 'live') this.sendEntry(entry);
    this.notify(null);
    return promise;
  }

  /** The promise of `entry`'s result (one per id, however many ask). */
  awaitEntry(entry) {
    let settle;
    const promise = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    this.pending.set(entry.id, { ...settle, promise });
    return promise;
  }

  /** Whether a command of `kind` matching `pred` is still waiting for its result. */
  queued(kind, pred = () => true) {
    return this.outbox.some((c) => c.command.kind === kind && pred(c.command));
  }

  sendEntry(entry) {
    this.ws?.send(JSON.stringify({ type: 'command', id: entry.id, command: entry.command }));
  }

  /** Resends every unanswered command, in the order they were made. */
  flush() {
    for (const entry of this.outbox) this.sendEntry(entry);
  }

  setState(state) {
    this.state = state;
    this.notify(null);
  }

  saveSoon() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 150);
  }

  save() {
    if (this.ended) return;
    if (this.seq != null) store(this.keys.saved, { seq: this.seq, store: this.store });
  }

  /** The outbox survives a reload, but a command carrying a password stays in memory only. */
  saveOutbox() {
    if (this.ended) return;
    store(this.keys.outbox, this.outbox.filter((c) => !SECRET_COMMANDS.includes(c.command.kind)));
  }
}

function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
}

function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { console.warn('muster: cannot save', key, e); }
}

// ----- the connection indicator -----------------------------------------------------

/**
 * Keeps `el` showing the connection: text (never colour alone) plus a `data-state`
 * for styling, and `data-resumed` on <html> once the session resumed.
 */
export function bindIndicator(client, el) {
  const render = () => {
    const q = client.outbox.length;
    const words = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline' }[client.state];
    el.textContent = q && client.state !== 'live' ? `${words} · ${q} queued` : q ? `${words} · sending ${q}` : words;
    el.dataset.state = client.state;
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    if (client.resumed != null) document.documentElement.dataset.resumed = String(client.resumed);
  };
  client.subscribe(render);
  render();
}
