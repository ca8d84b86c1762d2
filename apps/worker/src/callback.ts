import { createHmac } from 'node:crypto';
import {
  type HostEntry,
  hostListed,
  type ResolveHost,
  SafeFetchError,
  type SafeFetchErrorCode,
  safeFetch,
} from '@gtr/core';

/**
 * `sha256=<hex HMAC of the raw body>`, as the contract's deprecated X-Relay-Signature (sent only
 * with CALLBACK_LEGACY_SIGNATURE): it signs no time, so a recorded callback stays valid for ever.
 */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, as the contract's
 * X-Relay-Signature-256: the timestamp is signed too, so a receiver can refuse old replays.
 */
export function signTimestamped(secret: string, unixSeconds: number, body: string): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** Which addresses callbacks may reach (CALLBACK_ALLOW_PRIVATE, CALLBACK_ALLOWED_HOSTS). */
export interface CallbackPolicy {
  /** Any address, loopback and private included. */
  allowPrivate: boolean;
  /** Hosts (and host:port) that may resolve to any address. */
  allowedHosts: readonly HostEntry[];
  /** Name resolution; default the system's. Tests map names to loopback. */
  resolve?: ResolveHost | undefined;
  /** Deadline for the whole exchange. Default 10 s. */
  timeoutMs?: number;
}

export type CallbackOutcome =
  | { delivered: true; status: number }
  | {
      delivered: false;
      /** The address (or URL) is one the relay never calls: trying again cannot help. */
      refused: boolean;
      /** What the job and bull-board show: no address, port or socket error in it. */
      reason: string;
      /** For the operator's log only: what actually happened. */
      detail: string;
    };

/** Every word a tool (or bull-board) sees about a callback that was not delivered. */
export const CALLBACK_REASONS = {
  refused: 'the callback address is not allowed (private or loopback)',
  invalid: 'the callback URL is not a valid http(s) URL',
  unreachable: 'the callback endpoint could not be reached',
  timeout: 'the callback endpoint did not answer in time',
  status: (status: number) => `the callback endpoint answered ${status}`,
  redirect: (status: number) =>
    `the callback endpoint answered ${status} (a redirect; redirects are not followed)`,
} as const;

const REFUSED: ReadonlySet<SafeFetchErrorCode> = new Set(['ADDRESS_NOT_ALLOWED']);
const INVALID: ReadonlySet<SafeFetchErrorCode> = new Set(['INVALID_URL', 'UNSUPPORTED_SCHEME']);

/**
 * POSTs one callback through the SSRF-guarded fetch: the host is resolved once and every address
 * must be public unless the policy allows private ones (for all hosts, or for this one), the
 * connection is pinned to the checked address, and a redirect is an answer, never followed.
 */
export async function sendCallback(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: CallbackPolicy,
): Promise<CallbackOutcome> {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // safeFetch refuses it below, as INVALID_URL.
  }
  const allowPrivate = policy.allowPrivate || (parsed !== null && hostListed(parsed, policy.allowedHosts));
  try {
    const response = await safeFetch(url, {
      method: 'POST',
      headers,
      body,
      allowPrivate,
      followRedirects: false,
      timeoutMs: policy.timeoutMs ?? 10_000,
      idleTimeoutMs: policy.timeoutMs ?? 10_000,
      ...(policy.resolve ? { resolve: policy.resolve } : {}),
    });
    response.discard();
    const { status } = response;
    if (status >= 200 && status < 300) return { delivered: true, status };
    const reason =
      status >= 300 && status < 400 ? CALLBACK_REASONS.redirect(status) : CALLBACK_REASONS.status(status);
    return { delivered: false, refused: false, reason, detail: reason };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const code = error instanceof SafeFetchError ? error.code : null;
    if (code && REFUSED.has(code)) {
      return { delivered: false, refused: true, reason: CALLBACK_REASONS.refused, detail };
    }
    if (code && INVALID.has(code)) {
      return { delivered: false, refused: true, reason: CALLBACK_REASONS.invalid, detail };
    }
    const reason = code === 'FETCH_TIMEOUT' ? CALLBACK_REASONS.timeout : CALLBACK_REASONS.unreachable;
    return { delivered: false, refused: false, reason, detail };
  }
}
