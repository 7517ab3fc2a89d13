import { createHmac } from 'node:crypto';
import { validation } from './errors';

/**
 * Webhook events, with what each says (docs/supply-chain.md lists the same table). Pure: no I/O.
 */
export const WEBHOOK_EVENTS = {
  'advisory.in_use': 'an advisory affects a version that recorded projects use: an impact record was made or lists more projects (data: the record and the projects added)',
  'malware.in_use': 'a malware entry affects a version that recorded projects use (data: as advisory.in_use)',
  'request.created': 'a package request was filed (data: the request)',
  'request.decided': 'a package request was approved, rejected or cancelled (data: the request and its decision)',
  'install.blocked': 'installs of a package were refused, counted per package over one interval (data: package, counts by code, total, the interval)',
  'policy.changed': 'the policy changed (data: what changed, who changed it, the new policy generation)',
} as const;

export type WebhookEvent = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_LIST = Object.keys(WEBHOOK_EVENTS) as WebhookEvent[];

export function isWebhookEvent(value: unknown): value is WebhookEvent {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(WEBHOOK_EVENTS, value);
}

/** The table as docs/supply-chain.md shows it. */
export function webhookEventsMarkdown(): string {
  return ['| event | sent when |', '| --- | --- |', ...WEBHOOK_EVENT_LIST.map((e) => `| \`${e}\` | ${WEBHOOK_EVENTS[e]} |`)].join('\n');
}

/**
 * A webhook's URL: absolute http(s), no credentials, no fragment, at most 2000 characters.
 * Throws 400 EVALIDATION naming what is wrong.
 */
export function assertWebhookUrl(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 2000) throw validation('a webhook needs a URL (http:// or https://) of at most 2000 characters');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw validation('the webhook URL is not an absolute URL. Give one like https://hooks.example/gatekeeper');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw validation(`the webhook URL must be http:// or https://, not ${url.protocol.replace(/[^a-z0-9+.-]/gi, '').slice(0, 20)}`);
  if (url.username !== '' || url.password !== '') throw validation('the webhook URL must not hold credentials; receivers verify the X-Gatekeeper-Signature header instead');
  if (url.hash !== '') throw validation('the webhook URL must not have a fragment (#…)');
  if (/[\u0000-\u0020\u007f]/.test(value.trim())) throw validation('the webhook URL must not contain spaces or control characters');
  return url.href;
}

/** The events a webhook wants: a non-empty list (or comma-separated text) of known events, deduplicated. */
export function assertWebhookEvents(value: unknown): WebhookEvent[] {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(items) || items.length === 0 || items.length > WEBHOOK_EVENT_LIST.length) {
    throw validation(`a webhook needs events: one or more of ${WEBHOOK_EVENT_LIST.join(', ')}`);
  }
  for (const e of items) {
    if (!isWebhookEvent(e)) throw validation(`'${String(e).slice(0, 40)}' is not a webhook event; the events are ${WEBHOOK_EVENT_LIST.join(', ')}`);
  }
  return [...new Set(items as WebhookEvent[])];
}

/** The value of X-Gatekeeper-Signature: `sha256=` and the hex HMAC-SHA256 of the raw body. */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The delay before retry `attempt` (1 = the first retry): base * 2^(attempt-1), at most `max`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
}
