import type { NextFunction, Request, Response } from 'express';
import type { RefusableWrite } from '../../core/audit-actions';
import { asGatekeeperError, GatekeeperError, isErrorCode } from '../../core/errors';
import { assertDistTag, shown, versionFromTarball } from '../../core/names';
import type { Packument } from '../../core/packument';
import type { InspectedField, TarballInspection } from '../../core/inspection';
import { inspectTarball, mismatchInBrief } from '../../core/manifest-compare';
import { checkMetadataWrite, MetadataChanges, metadataChanges, parsePublishBody, publishedVersionOf, PublishRequest } from '../../core/publish';
import { readTarballManifestAsync } from '../../core/tarball-manifest';
import type { Actor } from '../../services/audit';
import type { PublishOutcome } from '../../services/publishing';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';
import { errorSentOn, writeError } from '../http/write-error';
import { actorOf, principalOfRequest } from './identity';
import { readRawPackument } from './manifests';
import { approveMetadataWrite } from './metadata-write';
import { RegistryMatch, REFUSED_WRITE, routeOf } from './routes';

/**
 * The handlers of the registry's write routes (see routes.ts), which check a write before
 * Verdaccio performs it: publish (immutability, permissions), unpublish (the unpublish
 * policy), deprecate and dist-tags (permissions, audit). Verdaccio does the storage work; we
 * record the outcome when it answers.
 */

const succeeded = (res: Response) => res.statusCode >= 200 && res.statusCode < 300;

/**
 * Runs `fn` with whether Verdaccio's answer is a success, before that answer is sent: a
 * client that got 201 for a publish finds the version recorded as published.
 */
function beforeAnswer(res: Response, fn: (ok: boolean) => Promise<void>, runtime: GatekeeperRuntime): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  let called = false;
  res.end = ((...args: unknown[]) => {
    if (called) return end(...args);
    called = true;
    fn(succeeded(res))
      .catch((err) => runtime.logger.error({ err }, 'recording the outcome of a registry write failed'))
      .finally(() => end(...args));
    return res;
  }) as Response['end'];
}

async function storedVersions(runtime: GatekeeperRuntime, storage: VerdaccioStorage, name: string, req: Request): Promise<Packument | undefined> {
  return readRawPackument(runtime, storage, name, req).catch((err: { status?: number }) => {
    if (err?.status === 404) return undefined;
    throw err;
  });
}

/** What a publish must agree on: the tarball's package.json against the manifest sent with it (all that inspectTarball compares). */
const PUBLISH_FIELDS: readonly InspectedField[] = ['name', 'version', 'installScripts', 'license', 'dependencies', 'bin'];

/**
 * Reads the published tarball's own package.json (bounded) and compares it with the manifest
 * the publish declares, before anything is reserved: clients act on the tarball's, so a
 * publish whose two disagree on name, version, install scripts, license, dependencies
 * (bundled ones included) or bins, each normalised as npm publishes it, is refused.
 */
export async function inspectPublish(request: PublishRequest): Promise<TarballInspection> {
  const label = `${request.name}@${request.version}`;
  // Inflated on the thread pool: a publish may be GATEKEEPER_MAX_BODY_SIZE large.
  const read = await readTarballManifestAsync(request.tarball.data, { errorCode: 'EBADPUBLISH', label });
  const inspection = inspectTarball(request.manifest, read, request.tarball.integrity, new Date());
  const wrong = inspection.mismatches.filter((m) => PUBLISH_FIELDS.includes(m.field));
  if (wrong.length > 0) {
    const what = wrong.map((m) => `${m.field}: the manifest says ${JSON.stringify(m.declared)}, the tarball ${JSON.stringify(m.actual)}`).join('; ');
    const happened = `the tarball of ${label} disagrees with the manifest published with it`;
    const next = 'Publish with npm from one package.json, which builds both from it';
    throw new GatekeeperError('EMANIFESTMISMATCH', `${happened} (${what}). ${next}`, { mismatches: wrong }, {
      // The status text names what differs without quoting it.
      short: { what: [`${happened} (${what})`, `${happened} (${wrong.map(mismatchInBrief).join('; ')})`], next },
    });
  }
  return inspection;
}

/** Which write a refusal is audited as (`${write}_refused`), and the version when it is known. */
interface Refused {
  write: RefusableWrite;
  version?: string;
  /** The refusal is audited already (or will be, by a publish's reservation): the wrapper does not audit the answer again. */
  audited?: boolean;
}

/** What the client was answered with, for the audit: the status, and the code and message of the refusal written. */
function answerOf(res: Response): PublishOutcome {
  const sent = errorSentOn(res);
  if (sent) return { status: res.statusCode, code: sent.code, reason: sent.message };
  return { status: res.statusCode, code: res.statusCode >= 500 ? 'EINTERNAL' : 'EVALIDATION', reason: `the registry answered ${res.statusCode}` };
}

/** The write handlers of the route table. */
export function createWriteHandlers(runtime: GatekeeperRuntime, storage: VerdaccioStorage) {
  const { publishing } = runtime;

  async function publish(req: Request, res: Response, next: NextFunction, name: string, actor: Actor, refused: Refused): Promise<void> {
    const body = req.body as { _attachments?: Record<string, unknown>; versions?: Record<string, Record<string, unknown>>; users?: unknown } | undefined;
    const principal = principalOfRequest(req);
    if (body && body._attachments && Object.keys(body._attachments).length > 0) {
      // A refusal of the body (not gzip, wrong digests) is audited with the version it names.
      refused.version = publishedVersionOf(body);
      const request = parsePublishBody(name, body);
      refused.version = request.version;
      const inspection = await inspectPublish(request);
      const reservation = await publishing.reserve(actor, principal, request);
      beforeAnswer(
        res,
        async (ok) => {
          if (!ok) {
            // The reservation audits the answer, as refused (4xx) or failed (5xx).
            refused.audited = true;
            return reservation.release(answerOf(res));
          }
          await reservation.confirm();
          await runtime.inspections.record(inspection, 'publish');
          // Its declared dependencies, for `gatekeeper dependents` (never throws).
          await runtime.catalogue.recordPublished(request.name, request.version, inspection.manifest);
        },
        runtime,
      );
      return runtime.requestContext.run({ raw: true }, () => next());
    }
    // No tarball: a deprecation (or a star), based on an unfiltered write read. Verdaccio
    // applies it as a change (versions missing from it are removed): it may not remove any.
    // npm star sends only _id, _rev and users; npm deprecate the whole document.
    refused.write = body && typeof body === 'object' && body.versions === undefined && body.users !== undefined ? 'package.star' : 'package.deprecate';
    publishing.assertMayPublish(principal, name);
    const before = await storedVersions(runtime, storage, name, req);
    const { removed } = checkMetadataWrite(name, body, before, 'deprecate');
    if (removed.length > 0) {
      throw new GatekeeperError('EBADPUBLISH', `the metadata write to ${name} leaves out ${removed.length === 1 ? 'a version' : 'versions'} it has (${removed.slice(0, 5).join(', ')}), which would remove them. Remove versions with npm unpublish <name>@<version>`);
    }
    const changes = metadataChanges(before, body);
    approveMetadataWrite(body, { removed: [], distTags: changes.distTags });
    beforeAnswer(res, async (ok) => (ok ? recordMetadataChanges(actor, name, changes) : undefined), runtime);
    runtime.requestContext.run({ raw: true }, () => next());
  }

  /** A stored metadata write's deprecations and dist-tag moves, audited as package.deprecate and package.dist_tag (one entry each). */
  async function recordMetadataChanges(actor: Actor, name: string, changes: MetadataChanges): Promise<void> {
    await publishing.recordWrites(actor, name, [
      ...changes.deprecations.map((c) => ({ action: 'package.deprecate' as const, version: c.version, details: { message: c.deprecated } })),
      ...changes.distTags.map((c) => ({
        action: 'package.dist_tag' as const,
        version: c.to ?? c.from ?? undefined,
        details: { op: c.to === null ? 'rm' : 'add', tag: c.tag, from: c.from, to: c.to, via: 'document' },
      })),
    ]);
  }

  /** PUT /<name>/-rev/<rev>: the stored document minus the versions being unpublished. */
  async function change(req: Request, res: Response, next: NextFunction, name: string, actor: Actor): Promise<void> {
    const principal = principalOfRequest(req);
    const before = await storedVersions(runtime, storage, name, req);
    const { removed } = checkMetadataWrite(name, req.body, before, 'change');
    await publishing.assertMayUnpublish(principal, name, removed);
    const changes = metadataChanges(before, req.body);
    // What is written is what was checked, whatever was published meanwhile (registry/metadata-write.ts).
    approveMetadataWrite(req.body, { removed, distTags: changes.distTags });
    beforeAnswer(
      res,
      async (ok) => {
        if (!ok) return;
        if (removed.length > 0) await publishing.recordUnpublished(actor, name, removed);
        await recordMetadataChanges(actor, name, changes);
      },
      runtime,
    );
    runtime.requestContext.run({ raw: true }, () => next());
  }

  async function unpublish(req: Request, res: Response, next: NextFunction, name: string, actor: Actor): Promise<void> {
    const before = await storedVersions(runtime, storage, name, req);
    const all = Object.keys(before?.versions ?? {});
    await publishing.assertMayUnpublish(principalOfRequest(req), name, all);
    beforeAnswer(res, async (ok) => (ok ? publishing.recordUnpublished(actor, name, all) : undefined), runtime);
    next();
  }

  /**
   * DELETE /<name>/-/<file>/-rev/<rev>: the last step of `npm unpublish <name>@<version>`, which
   * first writes the document without the version (the change route, under the unpublish
   * policy). Only the tarball of a version the stored document no longer lists may go: removing
   * a listed version's would leave it listed and uninstallable. A version that was not
   * unpublished (a tarball a failed publish left) needs the unpublish policy itself.
   */
  async function removeTarball(req: Request, res: Response, next: NextFunction, name: string, filename: string, actor: Actor, refused: Refused): Promise<void> {
    const principal = principalOfRequest(req);
    publishing.assertMayPublish(principal, name);
    const version = versionFromTarball(name, filename);
    refused.version = version;
    const before = await storedVersions(runtime, storage, name, req);
    const tarballOf = (manifest: unknown) => {
      const url = (manifest as { dist?: { tarball?: unknown } } | undefined)?.dist?.tarball;
      return typeof url === 'string' ? url.replace(/.*\//, '') : undefined;
    };
    const listed = Object.entries(before?.versions ?? {}).find(([v, manifest]) => v === version || tarballOf(manifest) === filename)?.[0];
    if (listed !== undefined) {
      refused.version = listed;
      throw new GatekeeperError(
        'ECONFLICT',
        `${filename} is the tarball of ${name}@${listed}, which is still listed: removing it alone would leave a version nobody can install. Unpublish the version with npm unpublish ${name}@${listed}, which removes its tarball too`,
      );
    }
    const record = version ? await publishing.versionState(name, version) : undefined;
    if (record?.state !== 'unpublished' && version) await publishing.assertMayUnpublish(principal, name, [version]);
    beforeAnswer(res, async (ok) => (ok ? publishing.recordTarballRemoved(actor, name, filename, version) : undefined), runtime);
    next();
  }

  async function distTag(req: Request, res: Response, next: NextFunction, name: string, tag: string, actor: Actor): Promise<void> {
    publishing.assertMayPublish(principalOfRequest(req), name);
    // A tag stored before its name was refused (constructor) can still be removed.
    if (req.method !== 'DELETE') assertDistTag(tag);
    const before = await storedVersions(runtime, storage, name, req);
    if (!before) throw new GatekeeperError('ENOTFOUND', `there is no package ${name} here. Publish it first with npm publish`);
    let version: string | undefined;
    if (req.method === 'DELETE') {
      if (!Object.prototype.hasOwnProperty.call(before['dist-tags'] ?? {}, tag)) throw new GatekeeperError('ENOTFOUND', `${name} has no dist-tag ${shown(tag)}. List its tags with npm dist-tag ls ${name}`);
    } else {
      // npm sends the version as a JSON string.
      if (typeof req.body !== 'string') throw new GatekeeperError('EVALIDATION', `the body of a dist-tag write is the version as a JSON string, such as "1.2.3". Use npm dist-tag add ${name}@<version> ${tag}`);
      version = req.body;
      if (!Object.prototype.hasOwnProperty.call(before.versions ?? {}, version)) {
        throw new GatekeeperError('ENOTFOUND', `${name} has no version ${shown(version)} to tag. List its versions with npm view ${name} versions`);
      }
    }
    beforeAnswer(
      res,
      async (ok) => {
        if (ok) await publishing.recordWrite(actor, 'package.dist_tag', name, { op: req.method === 'DELETE' ? 'rm' : 'add', tag, body: req.body ?? null }, version);
      },
      runtime,
    );
    next();
  }

  type Kind = 'publish' | 'change' | 'unpublish' | 'removeTarball' | 'distTagWrite';

  /**
   * Wraps a write check: the package's caches are dropped after a successful write, and every
   * refusal is audited as `${refused.write}_refused` (the handler may refine which write it is
   * and the version), with the actor, the package and the refusal's code and message.
   */
  const write =
    (kind: Kind, fn: (req: Request, res: Response, next: NextFunction, match: RegistryMatch, actor: Actor, refused: Refused) => Promise<void>) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const match = routeOf(req) as RegistryMatch;
      const name = match.params.package;
      const actor = actorOf(req);
      const refused: Refused = { write: REFUSED_WRITE[kind] as RefusableWrite };
      // The stored package changes: drop its cached responses before the client hears back.
      beforeAnswer(
        res,
        async (ok) => {
          if (!ok) {
            // Refused after our checks passed (by Verdaccio): audited with what the client was told.
            if (refused.audited) return;
            const answer = answerOf(res);
            const code = isErrorCode(answer.code) ? answer.code : 'EINTERNAL';
            await publishing.recordRefusedWrite(actor, refused.write, name, new GatekeeperError(code, answer.reason), refused.version);
            return;
          }
          // Its versions may be gone (unpublish) or deprecated: no decision or held tarball of it may be reused, here or on another instance.
          await runtime.packageChanged(name);
        },
        runtime,
      );
      try {
        await fn(req, res, next, match, actor, refused);
      } catch (err) {
        const known = asGatekeeperError(err);
        if (!known) runtime.logger.error({ err, path: req.path }, 'registry write check failed; refusing');
        const refusal =
          known ?? new GatekeeperError('EPOLICYUNAVAILABLE', `the write to ${name} could not be checked (${(err as Error).message}); nothing was changed. Try again later`);
        refused.audited = true;
        await publishing
          .recordRefusedWrite(actor, refused.write, name, refusal, refused.version)
          .catch((e) => runtime.logger.error({ err: e, path: req.path }, 'auditing a refused write failed'));
        writeError(res, refusal);
      }
    };

  return {
    publish: write('publish', (req, res, next, match, actor, refused) => publish(req, res, next, match.params.package, actor, refused)),
    change: write('change', (req, res, next, match, actor) => change(req, res, next, match.params.package, actor)),
    unpublish: write('unpublish', (req, res, next, match, actor) => unpublish(req, res, next, match.params.package, actor)),
    removeTarball: write('removeTarball', (req, res, next, match, actor, refused) => removeTarball(req, res, next, match.params.package, match.params.filename, actor, refused)),
    distTagWrite: write('distTagWrite', (req, res, next, match, actor) => distTag(req, res, next, match.params.package, match.params.tag, actor)),
  };
}
