import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertWebhookEvents, assertWebhookUrl, backoffMs, signature, webhookEventsMarkdown, WEBHOOK_EVENT_LIST } from '../../../src/core/webhooks';
import { BlockedInstalls } from '../../../src/services/blocked-installs';
import { caught } from '../../support/assert';

describe('webhooks (core)', () => {
  it('docs/supply-chain.md shows the event table as src/core/webhooks.ts has it', () => {
    const text = fs.readFileSync(path.join(__dirname, '../../../docs/supply-chain.md'), 'utf8');
    const table = /<!-- webhook-events:start -->\n([\s\S]*?)\n<!-- webhook-events:end -->/.exec(text)?.[1];
    expect(table).toBe(webhookEventsMarkdown());
  });

  it('accepts absolute http(s) URLs and refuses everything else with EVALIDATION', () => {
    expect(assertWebhookUrl('https://hooks.example/a?b=c')).toBe('https://hooks.example/a?b=c');
    expect(assertWebhookUrl(' http://127.0.0.1:9000/x ')).toBe('http://127.0.0.1:9000/x');
    for (const bad of ['', 'hooks.example/x', '/relative', 'ftp://hooks.example/', 'javascript:alert(1)', 'http://user:pw@hooks.example/', 'http://user@hooks.example/', 'https://hooks.example/#frag', 'http://a b/', 42, null, `https://h.example/${'x'.repeat(2001)}`]) {
      expect(caught(() => assertWebhookUrl(bad)).code).toBe('EVALIDATION');
    }
  });

  it('events: known names, a list or comma-separated, deduplicated', () => {
    expect(assertWebhookEvents('malware.in_use, policy.changed,malware.in_use')).toEqual(['malware.in_use', 'policy.changed']);
    expect(assertWebhookEvents([...WEBHOOK_EVENT_LIST])).toEqual(WEBHOOK_EVENT_LIST);
    for (const bad of [[], '', 'nope', ['malware.in_use', 'x'], [1], undefined, {}]) expect(caught(() => assertWebhookEvents(bad)).code).toBe('EVALIDATION');
  });

  it('signs the raw body with HMAC-SHA256', () => {
    const body = '{"id":"1","event":"policy.changed"}';
    expect(signature('s3cret', body)).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(signature('s3cret', body)).not.toBe(signature('other', body));
  });

  it('backs off exponentially up to the maximum', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(backoffMs(1000, 1000, 3_600_000)).toBe(3_600_000);
  });

  it('install.blocked: one event per package per flush, with counts by code', () => {
    const sent: Array<{ event: string; data: Record<string, unknown> }> = [];
    const counter = new BlockedInstalls({ emit: (event, data) => sent.push({ event, data }) }, 60_000);
    for (let i = 0; i < 3; i++) counter.count('a', 'EBANNED');
    counter.count('a', 'EMALWARE');
    counter.count('b', 'ENOTAPPROVED');
    expect(counter.flush()).toBe(2);
    expect(sent).toEqual([
      { event: 'install.blocked', data: expect.objectContaining({ package: 'a', counts: { EBANNED: 3, EMALWARE: 1 }, total: 4 }) },
      { event: 'install.blocked', data: expect.objectContaining({ package: 'b', counts: { ENOTAPPROVED: 1 }, total: 1 }) },
    ]);
    expect(counter.flush()).toBe(0);
    expect(sent).toHaveLength(2);
  });
});
