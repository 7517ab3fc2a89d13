import { GatekeeperError } from '../../core/errors';
import { ApprovedMetadataWrite, applyMetadataWrite } from '../../core/publish';
import { localStorageOf } from '../verdaccio-local-storage';

/**
 * The write of npm unpublish <name>@<version> and npm deprecate, as the gate checked it
 * (core/publish.ts applyMetadataWrite), in place of Verdaccio's changePackage. The change and
 * deprecate handlers approve a write (approveMetadataWrite) before passing it on; Verdaccio
 * hands the written document to changePackage with the same `versions` object, by which the
 * approval is found. A write without one (no handler checked it) is refused.
 */
const approvals = new WeakMap<object, ApprovedMetadataWrite>();

export function approveMetadataWrite(body: unknown, approved: ApprovedMetadataWrite): void {
  const versions = (body as { versions?: unknown } | null)?.versions;
  if (versions && typeof versions === 'object') approvals.set(versions, approved);
}

/** Replaces Verdaccio's changePackage on `storage`; false when it has none to replace. */
export function installMetadataWrite(storage: unknown): boolean {
  const local = localStorageOf(storage);
  if (!local) return false;
  local.changePackage = (name, written, _revision, callback) => {
    const approved = written?.versions && typeof written.versions === 'object' ? approvals.get(written.versions) : undefined;
    if (!approved) {
      return callback(new GatekeeperError('EINTERNAL', `the metadata write to ${name} reached the storage without the gate's checks, so nothing was written. Try again; the server log has the details`));
    }
    local._updatePackage(
      name,
      (stored, done) => {
        applyMetadataWrite(stored, written, approved, new Date());
        done(null);
      },
      (err) => callback(err ?? undefined),
    );
  };
  return true;
}
