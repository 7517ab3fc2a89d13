/**
 * The tables the docs show are taken from the code: every error code with its status and the
 * rule table (docs/policy.md), and the registry's route table (docs/security.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes } from '../../src/core/errors';
import { routeTableMarkdown } from '../../src/server/registry/routes';
import { ruleTableMarkdown } from '../../src/core/rules';

const doc = (name: string) => fs.readFileSync(path.join(__dirname, '../../docs', name), 'utf8');

describe('docs tables', () => {
  it('docs/policy.md lists every error code with its status', () => {
    const text = doc('policy.md');
    const rows = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^\| ((?:`E[A-Z]+`(?:, )?)+) \| (\d{3}) \|/.exec(line);
      if (!m) continue;
      for (const code of m[1].match(/E[A-Z]+/g) ?? []) rows.set(code, Number(m[2]));
    }
    const expected = Object.fromEntries(Object.entries(ErrorCodes));
    expect(Object.fromEntries(rows)).toEqual(expected);
  });

  it('docs/policy.md shows the rule table as src/core/rules has it', () => {
    expect(doc('policy.md')).toContain(`${ruleTableMarkdown()}\n`);
  });

  it('docs/security.md shows the route table as the code has it', () => {
    expect(doc('security.md')).toContain(routeTableMarkdown());
  });
});
