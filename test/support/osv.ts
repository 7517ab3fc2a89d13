/** OSV documents as feeds publish them, written to a temporary file for `gatekeeper advisories import`. */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './gatekeeper';

export interface OsvInput {
  id: string;
  /** The affected npm package. */
  name: string;
  /** The first fixed version; everything below it is affected. */
  fixed: string;
  severity?: 'LOW' | 'MODERATE' | 'HIGH' | 'CRITICAL';
  summary?: string;
}

export function osvDocument(input: OsvInput): Record<string, unknown> {
  return {
    id: input.id,
    summary: input.summary ?? 'Known only offline',
    affected: [{ package: { ecosystem: 'npm', name: input.name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: input.fixed }] }] }],
    ...(input.severity ? { database_specific: { severity: input.severity } } : {}),
    references: [{ type: 'ADVISORY', url: `https://github.com/advisories/${input.id}` }],
  };
}

/** Writes the document to a new temporary directory and returns the file's path. */
export function writeOsvFile(input: OsvInput): string {
  const file = path.join(tempDir('gk-osv-'), 'osv.json');
  fs.writeFileSync(file, JSON.stringify(osvDocument(input)));
  return file;
}
