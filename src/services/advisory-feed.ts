import type { Logger } from 'pino';
import { GatekeeperError } from '../core/errors';
import { redactQuery, sanitizeText } from '../core/text';
import { jsonNestingDepth } from '../core/tarball-manifest';
import type { AdvisoryService } from './advisories';
import { SYSTEM } from './audit';
import type { PeriodicJob } from './periodic';

export interface AdvisoryFeedOptions {
  /** An http(s) URL serving OSV JSON: one document or an array of them. */
  url: string;
  intervalMs: number;
  /** Deadline of one fetch (connect, headers, the whole body). */
  timeoutMs: number;
  /** The largest body accepted. */
  maxBytes: number;
  /** Fetches per run before the run fails (the first included). */
  attempts?: number;
  /** Delay before the first retry; doubles per retry. */
  retryBaseMs?: number;
}

export interface AdvisoryFeedHealth {
  /** The URL without its query (which may hold a token). */
  url: string;
  ok: boolean;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  /** Entries in the last document read, and how many of them were new or changed. */
  entries: number | null;
  imported: number | null;
  /** Documents in the last one read that were not OSV (or had an id that is not an OSV id): skipped. */
  skipped: number | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;
const MAX_DEPTH = 64;

/**
 * The scheduled advisory feed (GATEKEEPER_ADVISORY_FEED_URL): fetched every interval with a
 * deadline and a size limit, retried with backoff, redirects followed only on the feed's own
 * origin. Its entries are imported like `gatekeeper advisories import` (MAL- entries are
 * malware, `withdrawn` is honoured), only those new or changed since they were stored, and
 * take effect at once in every process (the import announces them).
 */
export class AdvisoryFeed {
  private state: AdvisoryFeedHealth;
  private readonly origin: string;

  constructor(
    private readonly advisories: AdvisoryService,
    private readonly options: AdvisoryFeedOptions,
    private readonly logger?: Logger,
  ) {
    this.origin = new URL(options.url).origin;
    this.state = { url: redactQuery(options.url), ok: true, lastAttemptAt: null, lastSuccessAt: null, lastError: null, entries: null, imported: null, skipped: null };
  }

  health(): AdvisoryFeedHealth {
    return { ...this.state };
  }

  job(): PeriodicJob {
    return { name: 'advisories.feed', intervalMs: this.options.intervalMs, run: (signal) => this.sync(signal).then(() => undefined) };
  }

  /** One run: fetch (with retries), import what is new or changed. Throws when every attempt failed. */
  async sync(signal?: AbortSignal): Promise<{ entries: number; imported: number }> {
    this.state.lastAttemptAt = new Date().toISOString();
    const attempts = Math.max(1, this.options.attempts ?? 4);
    let delay = this.options.retryBaseMs ?? 1000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (signal?.aborted) break;
      try {
        const document = await this.fetch(signal);
        const result = await this.advisories.importFeed(SYSTEM, document, this.state.url);
        // Nothing but documents that are not OSV (an error page as JSON, the wrong URL): not a
        // read of the feed, or every package would count as checked against it and clean.
        if (result.entries === 0 && result.skipped > 0) {
          throw feedError(`the advisory feed held no OSV document (${result.skipped} ${result.skipped === 1 ? 'document was' : 'documents were'} not OSV). Check that the feed URL serves OSV JSON`);
        }
        this.state = { ...this.state, ok: true, lastSuccessAt: new Date().toISOString(), lastError: null, entries: result.entries, imported: result.imported, skipped: result.skipped };
        if (result.imported > 0) this.logger?.info({ feed: this.state.url, entries: result.entries, imported: result.imported, packages: result.packages.length }, 'advisory feed imported new entries');
        if (result.skipped > 0) this.logger?.warn({ feed: this.state.url, skipped: result.skipped }, 'advisory feed: documents that are not OSV were skipped');
        return { entries: result.entries, imported: result.imported };
      } catch (err) {
        lastError = err;
        this.logger?.warn({ feed: this.state.url, attempt, error: (err as Error).message }, attempt < attempts ? 'advisory feed fetch failed; retrying' : 'advisory feed fetch failed');
        if (attempt < attempts) {
          await sleep(delay, signal);
          delay *= 2;
        }
      }
    }
    this.state = { ...this.state, ok: false, lastError: sanitizeText((lastError as Error)?.message ?? 'aborted', 500) };
    throw lastError instanceof Error ? lastError : new Error('the advisory feed run was aborted');
  }

  /** GET the feed: deadline, size limit, redirects only on the feed's origin, JSON. */
  private async fetch(signal?: AbortSignal): Promise<unknown> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const both = signal ? AbortSignal.any([deadline, signal]) : deadline;
    let url = new URL(this.options.url);
    try {
      for (let hop = 0; ; hop++) {
        const res = await fetch(url, { redirect: 'manual', signal: both, headers: { accept: 'application/json', 'user-agent': 'npm-gatekeeper' } });
        if (REDIRECTS.has(res.status)) {
          await res.body?.cancel().catch(() => undefined);
          const location = res.headers.get('location');
          const next = location ? new URL(location, url) : undefined;
          if (!next || next.origin !== this.origin || next.username || next.password) throw feedError(`the advisory feed redirected to another origin (${next ? next.origin : 'no location'}), which is not followed. Point the feed setting at the final URL`);
          if (hop >= MAX_REDIRECTS) throw feedError(`the advisory feed redirected more than ${MAX_REDIRECTS} times. Point the feed setting at the final URL`);
          url = next;
          continue;
        }
        if (res.status !== 200) {
          await res.body?.cancel().catch(() => undefined);
          throw feedError(`the advisory feed answered ${res.status}. It is fetched again after the retry delay`);
        }
        const text = await readLimited(res, this.options.maxBytes);
        if (jsonNestingDepth(text) > MAX_DEPTH) throw feedError(`the advisory feed's JSON is nested deeper than ${MAX_DEPTH} levels`);
        try {
          return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
        } catch {
          throw feedError('the advisory feed did not answer with JSON (an OSV document or an array of them)');
        }
      }
    } catch (err) {
      if (deadline.aborted) throw feedError(`the advisory feed did not answer within ${this.options.timeoutMs} ms`);
      if (err instanceof GatekeeperError) throw err;
      const e = err as Error & { cause?: { code?: string } };
      throw feedError(`cannot fetch the advisory feed (${sanitizeText(e.cause?.code ?? e.message ?? 'error', 100)})`);
    }
  }
}

function feedError(message: string): GatekeeperError {
  return new GatekeeperError('EUPSTREAM', message);
}

async function readLimited(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new GatekeeperError('EUPSTREAMTOOLARGE', `the advisory feed is larger than ${limit} bytes. Raise the feed size limit or serve a smaller document`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new GatekeeperError('EUPSTREAMTOOLARGE', `the advisory feed is larger than ${limit} bytes. Raise the feed size limit or serve a smaller document`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Waits `ms`, or until `signal` aborts; the abort listener goes with the wait (one signal serves many waits). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}
