import fs from 'node:fs';
import path from 'node:path';
import { AUDIT_ACTION_LIST, AUDIT_ACTIONS, auditActionsMarkdown, isAuditAction } from '../../../src/core/audit-actions';

const DOCS = path.resolve(__dirname, '../../../docs/policy.md');
const START = '<!-- audit-actions:start -->';
const END = '<!-- audit-actions:end -->';

/** The audit-action table as docs/policy.md has it. */
function documented(): string {
  const text = fs.readFileSync(DOCS, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  expect(from).toBeGreaterThanOrEqual(0);
  expect(to).toBeGreaterThan(from);
  return text.slice(from + START.length, to).trim();
}

describe('audit actions', () => {
  it('docs/policy.md lists exactly the actions of src/core/audit-actions.ts, with their descriptions', () => {
    const docs = documented();
    const rows = docs
      .split('\n')
      .slice(2)
      .map((line) => /^\| `([^`]+)` \| (.*) \|$/.exec(line));
    expect(rows.every((r) => r !== null)).toBe(true);
    const listed = rows.map((r) => (r as RegExpExecArray)[1]);
    // Names first, so a missing or extra action is named in the failure.
    expect([...listed].sort()).toEqual([...AUDIT_ACTION_LIST].sort());
    // Then everything: order and descriptions. To update the docs, paste auditActionsMarkdown().
    expect(docs).toBe(auditActionsMarkdown());
  });

  it('every action has a one-line description and a dotted lower-case name', () => {
    for (const action of AUDIT_ACTION_LIST) {
      expect(action).toMatch(/^[a-z_]+(\.[a-z_]+)+$/);
      expect(AUDIT_ACTIONS[action].length).toBeGreaterThan(10);
      expect(AUDIT_ACTIONS[action]).not.toMatch(/[\n|]/);
    }
  });

  it('knows its own actions only', () => {
    expect(isAuditAction('install.blocked')).toBe(true);
    expect(isAuditAction('user.login_throttled')).toBe(true);
    expect(isAuditAction('package.change_refused')).toBe(true);
    expect(isAuditAction('install.allowed')).toBe(false);
    expect(isAuditAction('toString')).toBe(false);
  });
});
