/**
 * Access control of the audit browser. Audit events name principals, topics, groups and client addresses, so
 * the browser is off by default, and when the admin server listens on anything but loopback the configuration
 * must give a token or basic-auth credentials (config.ts refuses to start otherwise).
 *
 * Accepted credentials:
 * - `Authorization: Bearer <token>` (scripts, curl);
 * - `Authorization: Basic ...` with the configured username and password (the browser's own login prompt);
 * - a session cookie, set after the page was opened as /audit?token=<token> or the login form was posted.
 *   The cookie holds no secret of the configuration: it is an expiry time and an HMAC of it under a key drawn
 *   at random when the proxy starts (so a restart logs everybody out). HttpOnly, SameSite=Strict, Path=/audit.
 *
 * Without configured credentials (loopback only) every request is allowed whose Host header names a loopback
 * address, which keeps web pages the operator visits from reading the events through DNS rebinding.
 *
 * Secrets are compared in constant time (over their SHA-256 digests, so lengths do not leak) and never logged,
 * echoed or rendered.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

export interface BrowserAuthConfig {
  token?: string;
  basicAuth?: { username: string; password: string };
}

export const SESSION_COOKIE = 'kap_audit_session';
const SESSION_TTL_MS = 12 * 3600_000;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const sameSecret = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

export type AuthResult =
  | { ok: true }
  | { ok: false; status: 401 | 403; reason: string };

export class BrowserAuth {
  private readonly sessionKey = randomBytes(32);

  constructor(private readonly cfg: BrowserAuthConfig | undefined, private readonly now: () => number = Date.now) {}

  get required(): boolean { return Boolean(this.cfg?.token || this.cfg?.basicAuth); }
  get usesToken(): boolean { return Boolean(this.cfg?.token); }
  get usesBasic(): boolean { return Boolean(this.cfg?.basicAuth); }

  /** True when `token` is the configured token. */
  tokenValid(token: string | null | undefined): boolean {
    return Boolean(this.cfg?.token) && typeof token === 'string' && sameSecret(token, this.cfg!.token!);
  }

  check(req: http.IncomingMessage): AuthResult {
    if (!this.required) {
      return isLoopbackHost(req.headers.host) ? { ok: true }
        : { ok: false, status: 403, reason: 'the audit browser without credentials only answers requests addressed to localhost' };
    }
    const header = req.headers.authorization;
    if (typeof header === 'string') {
      const sp = header.indexOf(' ');
      const scheme = (sp > 0 ? header.slice(0, sp) : header).toLowerCase();
      const value = sp > 0 ? header.slice(sp + 1).trim() : '';
      if (scheme === 'bearer' && this.tokenValid(value)) return { ok: true };
      if (scheme === 'basic' && this.basicValid(value)) return { ok: true };
    }
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie && this.sessionValid(cookie)) return { ok: true };
    return { ok: false, status: 401, reason: 'authentication required' };
  }

  private basicValid(b64: string): boolean {
    const b = this.cfg?.basicAuth;
    if (!b) return false;
    let decoded: string;
    try { decoded = Buffer.from(b64, 'base64').toString('utf8'); } catch { return false; }
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    // Both compared, always, so the time taken does not tell which one was wrong.
    const userOk = sameSecret(decoded.slice(0, i), b.username);
    const passOk = sameSecret(decoded.slice(i + 1), b.password);
    return userOk && passOk;
  }

  private sign(expires: number): string {
    return createHmac('sha256', this.sessionKey).update(`audit-browser-session:${expires}`).digest('base64url');
  }

  /** A Set-Cookie header value for a new session. */
  sessionCookie(): string {
    const expires = this.now() + SESSION_TTL_MS;
    return `${SESSION_COOKIE}=${expires}.${this.sign(expires)}; Path=/audit; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`;
  }

  private sessionValid(value: string): boolean {
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return false;
    const expires = Number(m[1]);
    if (expires < this.now()) return false;
    return timingSafeEqual(Buffer.from(m[2]), Buffer.from(this.sign(expires)));
  }

  /** WWW-Authenticate header of a 401 answer. */
  challenge(): string {
    return this.usesBasic ? 'Basic realm="kafka-audit-proxy audit browser", charset="UTF-8"' : 'Bearer realm="kafka-audit-proxy audit browser"';
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** True for "localhost", "127.x.y.z" and "[::1]", with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** True for a loopback interface address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || addr === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
}
