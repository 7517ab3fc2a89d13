import { integrityOf, shasumOf } from '../../core/publish';
import { documentKey, PackageStorage, storageKey } from '../../core/storage';
import type { StoredVersion, StoredVersions } from '../../services/publishing';

/**
 * What the package storage holds of a published version (see StoredVersions): Verdaccio's
 * document of the package and the version's tarball. A version is stored when the document
 * lists it; its digests are those of the stored tarball's bytes (what installers get), or the
 * document's when the tarball is missing.
 */

interface StoredDocument {
  versions?: Record<string, { dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown } } | undefined>;
  time?: Record<string, unknown>;
}

/** The file name of a version's tarball as publishing names it: `<name without scope>-<version>.tgz`. */
function tarballName(name: string, version: string): string {
  return `${name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name}-${version}.tgz`;
}

async function readDocument(storage: PackageStorage, name: string): Promise<StoredDocument | undefined> {
  const raw = await storage.get(documentKey(name));
  return raw ? (JSON.parse(raw.toString('utf8')) as StoredDocument) : undefined;
}

const own = (o: object | undefined, key: string): boolean => !!o && Object.prototype.hasOwnProperty.call(o, key);

export function storedVersions(storage: PackageStorage): StoredVersions {
  return {
    async find(name: string, version: string): Promise<StoredVersion | undefined> {
      const doc = await readDocument(storage, name);
      if (!doc || !own(doc.versions, version)) return undefined;
      const dist = doc.versions?.[version]?.dist ?? {};
      const named = typeof dist.tarball === 'string' ? dist.tarball.replace(/.*\//, '') : '';
      const file = named && named !== '.' && named !== '..' ? named : tarballName(name, version);
      const bytes = await storage.get(storageKey(name, file)).catch(() => undefined);
      const time = doc.time?.[version];
      const publishedAt = typeof time === 'string' && !Number.isNaN(Date.parse(time)) ? new Date(time) : undefined;
      if (bytes) return { integrity: integrityOf(bytes), shasum: shasumOf(bytes), publishedAt };
      return { integrity: typeof dist.integrity === 'string' ? dist.integrity : '', shasum: typeof dist.shasum === 'string' ? dist.shasum : '', publishedAt };
    },

    removeOrphan(name: string, version: string): Promise<boolean> {
      const key = storageKey(name, tarballName(name, version));
      // Under the package's lock: no write of Verdaccio's (which lists the version after writing its tarball) runs meanwhile.
      return storage.lock(name, async () => {
        if (!(await storage.stat(key))) return false;
        const doc = await readDocument(storage, name);
        if (own(doc?.versions, version)) return false;
        return storage.delete(key);
      });
    },
  };
}
