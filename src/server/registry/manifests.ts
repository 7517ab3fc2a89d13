import type { Request } from 'express';
import type { Packument } from '../../core/packument';
import type { VersionManifest } from '../../core/policy';
import type { ManifestSource } from '../../services/governance';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';

/**
 * What Verdaccio and the gate read of a request, for a read no client request is tied to (a
 * warm-ahead build, a lockfile check's manifests): the Host header and protocol the tarball
 * URLs are written for, when there is a client to write them for; the local address otherwise.
 */
export function standInRequest(origin: { protocol: string; host: string } | { protocol: string; hostname: string }): Request {
  const host = 'host' in origin ? origin.host : undefined;
  const hostname = 'hostname' in origin ? origin.hostname : hostnameOf(origin.host);
  return {
    headers: host === undefined ? {} : { host },
    get: (header: string) => (host !== undefined && header.toLowerCase() === 'host' ? host : undefined),
    protocol: origin.protocol,
    hostname,
    socket: { remoteAddress: '127.0.0.1' },
    connection: { remoteAddress: '127.0.0.1' },
    query: {},
  } as unknown as Request;
}

/** A Host header without its port (`[::1]:4873` → `[::1]`). */
function hostnameOf(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

/**
 * Reads the unfiltered packument from Verdaccio's storage, which syncs the upstream when
 * its copy is older than the uplink's maxage. Our filter plugin passes it through (raw
 * request context); the caller decides.
 */
export function readRawPackument(runtime: GatekeeperRuntime, storage: VerdaccioStorage, name: string, req: unknown, keepUpLinkData = false, uplinksLook = true): Promise<Packument> {
  return new Promise((resolve, reject) => {
    runtime.requestContext.run({ raw: true }, () => {
      storage.getPackage({
        name,
        uplinksLook,
        req,
        keepUpLinkData,
        callback: (err, metadata) => (err ? reject(upstreamCause(runtime, name, err)) : resolve(metadata as Packument)),
      });
    });
  });
}

/**
 * A version's manifest as stored, without asking the upstream when the stored copy has it
 * (the upstream's versions do not change once published); from a read that syncs the upstream
 * when storage has no copy of the package or not this version. Resolves the packument read
 * and the manifest, undefined when neither has the version.
 */
export async function readStoredVersion(
  runtime: GatekeeperRuntime,
  storage: VerdaccioStorage,
  name: string,
  version: string,
  req: unknown,
): Promise<{ raw: Packument; manifest: VersionManifest | undefined }> {
  const stored = await readRawPackument(runtime, storage, name, req, false, false).catch(() => undefined);
  const raw = stored?.versions && Object.hasOwn(stored.versions, version) ? stored : await readRawPackument(runtime, storage, name, req);
  return { raw, manifest: raw.versions && Object.hasOwn(raw.versions, version) ? (raw.versions[version] as VersionManifest) : undefined };
}

/**
 * Verdaccio reports any failed upstream fetch of a package it has no copy of as "not
 * found". When our upstream gateway met an error for the package just now (a deadline, a
 * size limit, a document that is no packument), that error is the true answer.
 */
function upstreamCause(runtime: GatekeeperRuntime, name: string, err: unknown): unknown {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (status !== 404 && status !== 503) return err;
  return runtime.gateway.failureFor(name) ?? err;
}

/** For explain: the packument, or undefined when neither storage nor the upstream has it. */
export function createStorageManifestSource(runtime: GatekeeperRuntime, storage: VerdaccioStorage): ManifestSource {
  const req = standInRequest({ protocol: 'http', hostname: runtime.settings.host });
  return {
    getPackument: (name) =>
      readRawPackument(runtime, storage, name, req).catch((err: { status?: number }) => {
        if (err?.status === 404) return undefined;
        throw err;
      }),
  };
}
