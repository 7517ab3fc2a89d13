import { Readable, Transform } from 'node:stream';
import type { Request, Response } from 'express';
import { parseSize } from '../../core/duration';
import { GatekeeperError } from '../../core/errors';
import { sanitizeText } from '../../core/text';
import type { GatekeeperRuntime } from '../runtime';
import { writeError } from '../http/write-error';

/**
 * `npm audit` through the gatekeeper: its advisory requests are passed to the upstream (as
 * verdaccio-audit does) and the answers returned as they are. The request body is streamed,
 * never buffered whole, and cut at GATEKEEPER_MAX_BODY_SIZE; the route table requires a login
 * for it under GATEKEEPER_REQUIRE_AUTH like any read.
 */
export function createAuditHandler(runtime: GatekeeperRuntime, upstream: string, timeoutMs = 30_000) {
  const base = upstream.endsWith('/') ? upstream : `${upstream}/`;
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
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    const encoding = req.headers['content-encoding'];
    if (typeof encoding === 'string') headers['content-encoding'] = encoding;
    try {
      const answer = await fetch(new URL(req.path.slice(1), base), {
        method: 'POST',
        headers,
        body: Readable.toWeb(bounded) as ReadableStream,
        duplex: 'half',
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit);
      const body = Buffer.from(await answer.arrayBuffer());
      if (!answer.ok) {
        // The upstream's refusal, in our envelope: its text, our code.
        let said = '';
        try {
          said = String((JSON.parse(body.toString('utf8')) as { error?: unknown }).error ?? '');
        } catch {
          said = '';
        }
        const why = sanitizeText(said || `HTTP ${answer.status}`, 300);
        return writeError(
          res,
          answer.status >= 500
            ? new GatekeeperError('EUPSTREAM', `the upstream's audit endpoint failed (${why}). Try again later`)
            : new GatekeeperError('EVALIDATION', `the upstream's audit endpoint refused the request (${why}). Check what the client sent`),
        );
      }
      res.status(answer.status);
      res.setHeader('content-type', answer.headers.get('content-type') ?? 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(body);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (cause instanceof GatekeeperError) {
        res.setHeader('connection', 'close');
        return writeError(res, cause);
      }
      runtime.logger.warn({ err }, 'npm audit pass-through failed');
      writeError(res, new GatekeeperError('EUPSTREAM', `the upstream's audit endpoint could not be reached (${(err as Error).message}). Try again later`));
    }
  };
}
