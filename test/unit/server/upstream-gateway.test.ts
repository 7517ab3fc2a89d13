import http from 'node:http';
import pino from 'pino';
import { GatekeeperError } from '../../../src/core/errors';
import { startUpstreamGateway, UpstreamGateway } from '../../../src/server/upstream-gateway';

/** One GET over a kept-alive connection: status, headers and body. */
function get(url: string, agent: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('the upstream gateway', () => {
  let gateway: UpstreamGateway;
  const agent = new http.Agent({ keepAlive: true });
  const client = {
    packument: async (name: string) => {
      if (name === 'broken') throw new GatekeeperError('EUPSTREAMTIMEOUT', 'the upstream did not deliver broken in time. Try again later.');
      if (name === 'absent') return { status: 404 as const };
      return { status: 200 as const, body: { name, versions: {}, 'dist-tags': {} } };
    },
    search: async () => ({ objects: [] }),
  };

  beforeAll(async () => {
    gateway = await startUpstreamGateway(client, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    agent.destroy();
    await gateway.close();
  });

  it('keeps connections alive without announcing an idle timeout (it never closes an idle one first)', async () => {
    const first = await get(`${gateway.url}plain`, agent);
    expect(first.status).toBe(200);
    expect(first.headers.connection).toBe('keep-alive');
    expect(first.headers['keep-alive']).toBeUndefined();
  });

  it('answers 404 for what the upstream lacks and for anything outside its secret prefix', async () => {
    expect((await get(`${gateway.url}absent`, agent)).status).toBe(404);
    expect((await get(gateway.url.replace(/\/[0-9a-f]{32}\//, '/wrong/') + 'plain', agent)).status).toBe(404);
  });

  it('answers a failure with its status and remembers the error for the gate', async () => {
    const failed = await get(`${gateway.url}broken`, agent);
    expect(failed.status).toBe(504);
    expect(gateway.failureFor('broken')?.code).toBe('EUPSTREAMTIMEOUT');
    expect(gateway.failureFor('plain')).toBeUndefined();
  });
});
