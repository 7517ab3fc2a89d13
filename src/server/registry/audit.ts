import { Transform } from 'node:stream';
import type { Request, Response } from 'express';
import { parseSize } from '../../core/duration';
import { GatekeeperError } from '../../core/errors';
import { sanitizeText } from '../../core/text';
import type { UpstreamClient } from '../../upstream/client';
import type { GatekeeperRuntime } from '../runtime';
import { writeError } from '../http/write-error';

/**
 * `npm audit` through the gatekeeper: its advisory requests are passed to the upstream (as
 * verdaccio-audit does) through the upstream client (npm's credentials, proxy and CA for the
 * upstream, one deadline, a size limit on the answer) and the answers returned as they are.
 * The request body is streamed, never buffered whole, and cut at GATEKEEPER_MAX_BODY_SIZE;
 * the route table requires a login for it under GATEKEEPER_REQUIRE_AUTH like any read.
 */
export function createAuditHandler(runtime: GatekeeperRuntime, client: Pick<UpstreamClient, 'postStream'>) {
  const limit = parseSize(runtime.settings.maxBodySize);
  return async function audit(req: Request, res: Response): Promise<void> {
    let seen = 0;
    const bounded = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > limit) return done(new GatekeeperError('EPAYLOADTOOLARGE', `the audit request is larger than ${runtime.settings.maxBodySize}. Audit fewer packages at once`));
        done(null, chunk);
      },
    });
    req.pipe(bounded);
    // A client that goes away mid-body fails the body (and so the call) rather than leaving it
    // open. (Not pipeline(): destroying the request on our own refusal would lose the answer.)
    req.once('error', (err) => bounded.destroy(err));
    req.once('close', () => {
      if (!req.complete && !bounded.destroyed) bounded.destroy(Object.assign(new Error('the client closed the connection'), { code: 'ECONNRESET' }));
    });
    const encoding = req.headers['content-encoding'];
    try {
      const answer = await client.postStream(req.path.slice(1), bounded, {
        'content-type': 'application/json',
        ...(typeof encoding === 'string' ? { 'content-encoding': encoding } : {}),
      });
      if (answer.status >= 300) {
        // The upstream's refusal, in our envelope: its text, our code. (5xx never get here: the client calls them EUPSTREAM.)
        let said = '';
        try {
          said = String((JSON.parse(answer.body.toString('utf8')) as { error?: unknown }).error ?? '');
        } catch {
          said = '';
        }
        const why = sanitizeText(said || `HTTP ${answer.status}`, 300);
        if (!req.complete) res.setHeader('connection', 'close');
        return writeError(res, refusal(answer.status, why));
      }
      res.status(answer.status);
      res.setHeader('content-type', answer.contentType ?? 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(answer.body);
    } catch (err) {
      // Whatever was not read of the request stays unread: the connection cannot be reused.
      if (!req.complete) res.setHeader('connection', 'close');
      if (err instanceof GatekeeperError) return writeError(res, err);
      runtime.logger.warn({ err }, 'npm audit pass-through failed');
      writeError(res, new GatekeeperError('EUPSTREAM', `the upstream's audit endpoint could not be reached. Try again later`));
    }
  };
}

/** An upstream's 3xx/4xx answer to an audit request as our error: only a plain 4xx is the client's fault. */
function refusal(status: number, why: string): GatekeeperError {
  if (status === 401 || status === 403) {
    return new GatekeeperError(
      'EUPSTREAM',
      `the upstream's audit endpoint refused the gatekeeper (${why}). Check the credentials configured for the upstream (npm's auth settings for its URL)`,
    );
  }
  if (status === 404 || status === 405) {
    return new GatekeeperError('EUPSTREAM', `the upstream registry does not offer this audit endpoint (${why}). Use an upstream that supports npm audit`);
  }
  if (status === 429) return new GatekeeperError('EUPSTREAM', `the upstream's audit endpoint is busy (${why}). Try again later`);
  return new GatekeeperError('EVALIDATION', `the upstream's audit endpoint refused the request (${why}). Check what the client sent`);
}
