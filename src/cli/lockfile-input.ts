import fs from 'node:fs';
import path from 'node:path';
import { LOCKFILE_NAMES, parseLockfile, ParsedLockfile } from '../core/lockfile';
import { UsageError } from './args';

/** Reads the lockfile given, or the first of npm's, pnpm's or yarn's in the directory. */
export function readLockfile(given: string | undefined, cwd = process.cwd()): { file: string; parsed: ParsedLockfile } {
  let file: string | undefined;
  if (given) {
    file = path.resolve(cwd, given);
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = LOCKFILE_NAMES.map((n) => path.join(file as string, n)).find((f) => fs.existsSync(f));
  } else {
    file = LOCKFILE_NAMES.map((n) => path.join(cwd, n)).find((f) => fs.existsSync(f));
  }
  if (!file || !fs.existsSync(file)) {
    throw new UsageError(given ? `no lockfile at ${given}` : `no lockfile here (looked for ${LOCKFILE_NAMES.join(', ')})`);
  }
  return { file, parsed: parseLockfile(path.basename(file), fs.readFileSync(file, 'utf8')) };
}
