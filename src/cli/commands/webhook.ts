import { requirePositional, stringFlag, UsageError } from '../args';
import { createClient, enc } from '../client';
import { Command, REGISTRY_FLAG } from '../command';
import { json, line, table } from '../output';

interface WebhookView {
  id: number;
  url: string;
  events: string[];
  createdBy: string;
  createdAt: string;
  secret?: string;
}

interface DeliveryView {
  id: string;
  event: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  log: Array<{ attempt: number; at: string; status: number | null; error: string | null }>;
}

export const webhook: Command = {
  name: 'webhook',
  forms: ['add <url> --events [--json]', 'list [--json]', 'remove <id>', 'deliveries <id> [--limit] [--json]'],
  flags: { events: { value: 'a,b' }, limit: { value: 'N' }, json: {}, ...REGISTRY_FLAG },
  summary: 'Webhooks (admin): signed JSON deliveries of advisory.in_use, malware.in_use, request.created, request.decided, install.blocked, policy.changed',
  async run({ args, io, env }) {
    const api = createClient({ registry: stringFlag(args, 'registry') }, env);
    const action = requirePositional(args, 0, 'add, list, remove or deliveries');
    if (action === 'add') {
      const url = requirePositional(args, 1, 'the receiver URL');
      const events = stringFlag(args, 'events');
      if (!events) throw new UsageError('give the events: --events malware.in_use,advisory.in_use');
      const created = await api.request<WebhookView>('POST', '/webhooks', { url, events: events.split(',').map((e) => e.trim()).filter(Boolean) });
      if (args.flags.json) io.out(json(created));
      else {
        io.out(line`added webhook ${created.id}: ${created.url} (${created.events.join(', ')})`);
        io.out(line`secret: ${created.secret}`);
        io.out('It is shown only now. The receiver checks X-Gatekeeper-Signature: sha256=<hex HMAC-SHA256 of the raw body with this secret>.');
      }
      return 0;
    }
    if (action === 'list') {
      const result = await api.request<{ items: WebhookView[] }>('GET', '/webhooks');
      io.out(args.flags.json ? json(result) : table(result.items as unknown as Array<Record<string, unknown>>, ['id', 'url', 'events', 'createdBy', 'createdAt']));
      return 0;
    }
    if (action === 'remove') {
      const id = requirePositional(args, 1, "the webhook's id");
      const removed = await api.request<WebhookView>('DELETE', `/webhooks/${enc(id)}`);
      io.out(line`removed webhook ${removed.id} (${removed.url})`);
      return 0;
    }
    if (action === 'deliveries') {
      const id = requirePositional(args, 1, "the webhook's id");
      const limit = stringFlag(args, 'limit');
      const result = await api.request<{ items: DeliveryView[] }>('GET', `/webhooks/${enc(id)}/deliveries${limit ? `?limit=${enc(limit)}` : ''}`);
      if (args.flags.json) io.out(json(result));
      else {
        io.out(table(result.items as unknown as Array<Record<string, unknown>>, ['id', 'event', 'status', 'attempts', 'lastStatus', 'lastError', 'createdAt', 'deliveredAt']));
        for (const d of result.items) {
          for (const a of d.log) io.out(line`  delivery ${d.id} attempt ${a.attempt} at ${a.at}: ${a.status ?? '-'}${a.error ? ` (${a.error})` : ''}`);
        }
      }
      return 0;
    }
    throw new UsageError(`unknown action '${action}'`);
  },
};
