import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import type { Request, Response } from 'express';
import { bulkAnswer, bulkTargets, bulkWithout, mergeBulk, mergeQuick, quickAnswer, treeTargets, treeWithout, upstreamBulkWithout, upstreamQuickWithout } from '../../core/audit-report';
import { parseSize } from '../../core/duration';
import { GatekeeperError } from '../../core/errors';
import { sanitizeText } from '../../core/text';
import type { UpstreamClient } from '../../upstream/client';
import type { GatekeeperRuntime } from '../runtime';
import { writeError } from '../http/write-error';
import { routeOf } from './routes';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** The largest audit request read (compressed or not), whatever GATEKEEPER_MAX_BODY_SIZE allows a publish: parsing it holds the event loop. */
const AUDIT_MAX_BYTES = 10 * 1024 * 1024;

/**
 * `npm audit`, `pnpm audit`, `yarn audit`, `yarn npm audit` and `bun audit` answered by the
 * gatekeeper: from its own advisories (the upstream's answers it stored, OSV files imported
 * offline), merged with the upstream's answer when the upstream has one. The request is read
 * up to GATEKEEPER_MAX_BODY_SIZE or 10 MB, whichever is less (counted as it arrives), passed
 * to the upstream as it was sent (compressed or not) through the upstream client, and read by
 * us; private names are never sent (the request is then sent without them, as JSON), and the
 * upstream's advisories for such a name, which are about another package, are dropped. An
 * upstream without the endpoint (404, 405) leaves our answer alone; one that refuses the
 * gatekeeper, cannot be reached or answers something that is no audit answer is refused
 * (a report that silently lacks the upstream's advisories would look clean when it is not).
 * The route table requires a login for it under GATEKEEPER_REQUIRE_AUTH like any read.
 */
export function createAuditHandler(runtime: GatekeeperRuntime, client: Pick<UpstreamClient, 'postStream'>) {
  const configured = parseSize(runtime.settings.maxBodySize);
  const limit = Math.min(configured, AUDIT_MAX_BYTES);
  const setting = limit === configured ? runtime.settings.maxBodySize : '10mb';
  return async function audit(req: Request, res: Response): Promise<void> {
    try {
      const raw = await readBounded(req, limit, setting);
      const encoding = req.headers['content-encoding'];
      const body = await parseBody(raw, typeof encoding === 'string' ? encoding : undefined, limit, setting);
      // The route the table matched (its path spelled once), not the request's spelling of it.
      const route = routeOf(req)?.route;
      if (!route) throw new GatekeeperError('ENOTFOUND', 'this audit path is not one the registry answers. Use npm, pnpm, yarn or bun audit');
      const bulk = route.name === 'audit_bulk';
      const targets = bulk ? bulkTargets(body) : treeTargets(body);
      const isPrivate = (name: string) => runtime.publishing.isPrivate(name);
      const object = body as Record<string, unknown>;
      const sent = bulk ? bulkWithout(object, isPrivate) : treeWithout(object, isPrivate);
      // The request's own bytes when nothing was taken out of it; else what is left, as plain JSON.
      const [payload, payloadEncoding] = sent === object ? [raw, encoding] : [Buffer.from(JSON.stringify(sent)), undefined];
      const [known, upstream] = await Promise.all([runtime.advisories.forAudit([...targets.keys()]), askUpstream(runtime, client, route.path.slice(1), payload, payloadEncoding, bulk)]);
      const answer = bulk ? mergeBulk(bulkAnswer(targets, known), upstreamBulkWithout(upstream, isPrivate)) : mergeQuick(quickAnswer(targets, known), upstreamQuickWithout(upstream, isPrivate));
      res.status(200);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify(answer));
    } catch (err) {
      // Whatever was not read of the request stays unread: the connection cannot be reused.
      if (!req.complete) res.setHeader('connection', 'close');
      if (err instanceof GatekeeperError) return writeError(res, err);
      // Not ours: a database or programming error, whose text (a query, a path) is for the log only.
      runtime.logger.warn({ err }, 'audit failed');
      writeError(res, new GatekeeperError('EUPSTREAM', 'the audit could not be answered. Try again later; the server log has the details'));
    }
  };
}

function tooLargeAudit(setting: string): GatekeeperError {
  return new GatekeeperError('EPAYLOADTOOLARGE', `the audit request is larger than ${setting}. Audit fewer packages at once`);
}

/** The request body, refused once it exceeds the limit (counted as it arrives, with or without a content-length). */
function readBounded(req: Request, limit: number, setting: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  // A declared length over the limit is refused before a byte is read.
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLargeAudit(setting));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      req.pause();
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      seen += chunk.length;
      if (seen > limit) return fail(tooLargeAudit(setting));
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.once('error', (err) => fail(err));
    req.once('close', () => {
      if (!req.complete) fail(Object.assign(new Error('the client closed the connection'), { code: 'ECONNRESET' }));
    });
  });
}

/**
 * The request as JSON. A compressed one is inflated on the thread pool, never blocking the
 * event loop, and only up to the same limit as the bytes sent: a gzip bomb stops there.
 */
async function parseBody(raw: Buffer, encoding: string | undefined, limit: number, setting: string): Promise<unknown> {
  let text: Buffer;
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  try {
    if (enc === 'gzip' || enc === 'x-gzip') text = await gunzipAsync(raw, { maxOutputLength: limit });
    else if (enc === 'deflate') text = await inflateAsync(raw, { maxOutputLength: limit });
    else if (enc === 'identity' || enc === '') text = raw;
    else throw new GatekeeperError('EUNSUPPORTEDMEDIATYPE', `the audit request's encoding '${sanitizeText(enc, 40)}' is not supported. Send JSON, plain or gzip`);
  } catch (err) {
    if (err instanceof GatekeeperError) throw err;
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new GatekeeperError('EPAYLOADTOOLARGE', `the audit request is larger than ${setting} once decompressed. Audit fewer packages at once`);
    }
    throw new GatekeeperError('EVALIDATION', `the audit request could not be decompressed (${sanitizeText((err as Error).message, 100)}). Check what the client sent`);
  }
  if (text.length === 0) return {};
  try {
    return JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new GatekeeperError('EVALIDATION', `the audit request is not valid JSON (${sanitizeText((err as Error).message, 100)}). Check what the client sent`);
  }
}

/** The upstream's answer, or undefined when it has no such endpoint. Refusals and failures throw. */
async function askUpstream(runtime: GatekeeperRuntime, client: Pick<UpstreamClient, 'postStream'>, path: string, raw: Buffer, encoding: string | string[] | undefined, bulk: boolean): Promise<unknown> {
  const answer = await client.postStream(path, Readable.from([raw]), {
    'content-type': 'application/json',
    ...(typeof encoding === 'string' ? { 'content-encoding': encoding } : {}),
  });
  if (answer.status === 404 || answer.status === 405) {
    runtime.logger.debug({ path, status: answer.status }, 'the upstream has no such audit endpoint; answering from our advisories');
    return undefined;
  }
  if (answer.status >= 300) {
    // The upstream's refusal, in our envelope: its text, our code. (5xx never get here: the client calls them EUPSTREAM.)
    let said = '';
    try {
      said = String((JSON.parse(answer.body.toString('utf8')) as { error?: unknown }).error ?? '');
    } catch {
      said = '';
    }
    throw refusal(answer.status, sanitizeText(said || `HTTP ${answer.status}`, 300));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!isAuditAnswer(parsed, bulk)) {
    throw new GatekeeperError('EUPSTREAM', "the upstream's audit endpoint answered with something that is not an audit answer, so the report would lack its advisories. Try again later; check the upstream if it persists");
  }
  return parsed;
}

/** A bulk answer (package names to lists of advisories) or a quick/full one (an object whose advisories, when given, are an object). */
function isAuditAnswer(value: unknown, bulk: boolean): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  if (bulk) return Object.values(value).every((entries) => Array.isArray(entries));
  const advisories = (value as { advisories?: unknown }).advisories;
  return advisories === undefined || (!!advisories && typeof advisories === 'object' && !Array.isArray(advisories));
}

/** An upstream's 3xx/4xx answer to an audit request as our error: only a plain 4xx is the client's fault. */
function refusal(status: number, why: string): GatekeeperError {
  if (status === 401 || status === 403) {
    return new GatekeeperError(
      'EUPSTREAMREFUSED',
      `the upstream's audit endpoint refused the gatekeeper (${why}). Check the credentials configured for the upstream (npm's auth settings for its URL)`,
    );
  }
  if (status === 429) return new GatekeeperError('EUPSTREAM', `the upstream's audit endpoint is busy (${why}). Try again later`);
  return new GatekeeperError('EVALIDATION', `the upstream's audit endpoint refused the request (${why}). Check what the client sent`);
}
