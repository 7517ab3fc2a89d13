/**
 * What the gatekeeper reaches in Verdaccio 6.8's local storage (verdaccio/build/lib/local-storage.js)
 * to replace an add-only or all-or-nothing step with its own: the upstream merge's write
 * (upstream-merge.ts) and the metadata write of npm unpublish and deprecate
 * (registry/metadata-write.ts). `_updatePackage` is its read-modify-write of a package's
 * document, under the package's storage lock; the handler changes the document it is given.
 */
export interface StoredDocument {
  versions: Record<string, unknown>;
  'dist-tags': Record<string, string>;
  time?: Record<string, string>;
  users?: unknown;
  _attachments?: Record<string, { version?: string }>;
  readme?: unknown;
}

export interface VerdaccioLocalStorage {
  updateVersions(name: string, packageInfo: StoredDocument, callback: (err: unknown, stored?: StoredDocument) => void): void;
  changePackage(name: string, incoming: StoredDocument, revision: string, callback: (err?: unknown) => void): void;
  _updatePackage(name: string, update: (stored: StoredDocument, done: (err: unknown) => void) => void, callback: (err: unknown) => void): void;
}

/** Verdaccio's local storage on its Storage, when it has the methods the gatekeeper replaces. */
export function localStorageOf(storage: unknown): VerdaccioLocalStorage | undefined {
  const local = (storage as { localStorage?: Partial<VerdaccioLocalStorage> } | null)?.localStorage;
  return local && typeof local.updateVersions === 'function' && typeof local.changePackage === 'function' && typeof local._updatePackage === 'function' ? (local as VerdaccioLocalStorage) : undefined;
}
