/**
 * RFC 8555 §6.6: a CA that rate-limits answers 429 (or 503) with Retry-After, and a client should wait
 * that long. acme-client waits inside the order and asks again, up to five times: Let's Encrypt's
 * limits answer in hours, so one order would block for a day and every other hostname's order (the
 * manager orders one at a time) behind it. Here a Retry-After beyond a minute ends the order at once
 * instead, and the time the CA gave is kept for the manager's backoff: no order before it.
 *
 * The hook is axios's transformResponse, which runs for every response acme-client's shared instance
 * gets (errors included, before its retry interceptor) with the request's config as `this`; setting
 * that config's retry count past acme-client's maximum is what makes it give up (its axios.js reads
 * `config.retryAttempt`).
 */
import acme from 'acme-client';

type AxiosResponseTransformer =
  NonNullable<typeof acme.axios.defaults.transformResponse> extends infer T
    ? T extends readonly (infer F)[]
      ? F
      : T
    : never;

/** Retry-After waits acme-client may still do itself (a CA's short hiccup). */
const LONGEST_WAIT_INSIDE_S = 60;

let rateLimitedUntil: number | undefined;
let installed = false;

/** Seconds of a Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), undefined if unreadable. */
export function retryAfterSeconds(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function installRateLimitGuard(): void {
  if (installed) return;
  installed = true;
  const defaults = acme.axios.defaults;
  const before = defaults.transformResponse;
  const chain = before === undefined ? [] : Array.isArray(before) ? before : [before];
  defaults.transformResponse = [
    ...chain,
    function guard(this: object, data: unknown, headers: { get(name: string): unknown }, status?: number) {
      if (status !== 429 && status !== 503) return data;
      const seconds = retryAfterSeconds(headers?.get('retry-after'));
      if (seconds !== undefined && seconds > LONGEST_WAIT_INSIDE_S) {
        rateLimitedUntil = Math.max(rateLimitedUntil ?? 0, Date.now() + seconds * 1000);
        (this as { retryAttempt?: number }).retryAttempt = Number.POSITIVE_INFINITY; // acme-client: no more attempts
      }
      return data;
    } as AxiosResponseTransformer,
  ];
}

/** Forgets an earlier order's limit; called as an order starts. */
export function clearRateLimit(): void {
  rateLimitedUntil = undefined;
}

/** Until when the CA asked not to be asked again, if it did during the order that just failed. */
export function rateLimitedUntilMs(): number | undefined {
  return rateLimitedUntil;
}
