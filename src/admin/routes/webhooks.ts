import { WEBHOOK_EVENT_LIST } from '../../core/webhooks';
import { CREATED, ok, RouteDef } from '../route';

export const create_webhook: RouteDef = {
  name: 'create_webhook',
  method: 'post',
  path: '/webhooks',
  access: 'govern',
  responses: CREATED,
  summary:
    'Register a webhook: an http(s) URL without credentials and the events it wants. The answer holds its signing secret, shown this once; deliveries carry X-Gatekeeper-Signature: sha256=<hex HMAC-SHA256 of the body>. Audited',
  body: [
    { name: 'url', description: 'absolute http:// or https:// URL, no credentials', required: true },
    { name: 'events', description: `a list of: ${WEBHOOK_EVENT_LIST.join(', ')}`, required: true },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.webhooks.add(actor, { url: body.url, events: body.events })),
};

export const list_webhooks: RouteDef = {
  name: 'list_webhooks',
  method: 'get',
  path: '/webhooks',
  access: 'govern',
  summary: 'The registered webhooks (never their secrets)',
  handler: async ({ runtime }) => ok({ items: await runtime.webhooks.list(), events: WEBHOOK_EVENT_LIST }),
};

export const delete_webhook: RouteDef = {
  name: 'delete_webhook',
  method: 'delete',
  path: '/webhooks/:id',
  access: 'govern',
  summary: 'Remove a webhook, its queued deliveries and its delivery log; audited',
  handler: async ({ runtime, actor, params }) => ok(await runtime.webhooks.remove(actor, params.id)),
};

export const list_webhook_deliveries: RouteDef = {
  name: 'list_webhook_deliveries',
  method: 'get',
  path: '/webhooks/:id/deliveries',
  access: 'govern',
  summary: "A webhook's delivery log, newest first: each delivery's event, status (pending, delivered, failed), attempts and each attempt's answer",
  query: [{ name: 'limit', description: 'at most this many deliveries (1 to 1000, default 100)' }],
  handler: async ({ runtime, params, query }) => ok(await runtime.webhooks.deliveries(params.id, query.limit)),
};
