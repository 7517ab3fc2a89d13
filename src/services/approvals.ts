import type { Repositories } from '../db/store';
import { Actor, auditEntry } from './audit';

/**
 * Removes the approval of exactly `pattern@range` when it has expired (audited as
 * approval.delete, `expired: true`), so that approving that spec again makes a live one: the
 * spec is unique, and an expired approval approves nothing. Returns whether it removed one.
 * Inside the caller's transaction, before it looks for or saves the spec's approval.
 */
export async function dropExpiredApproval(repos: Repositories, actor: Actor, pattern: string, range: string, now: number): Promise<boolean> {
  const existing = await repos.policy.findApprovalBySpec(pattern, range);
  if (!existing || existing.expiresAt === null || existing.expiresAt.getTime() > now) return false;
  await repos.policy.removeApproval(Number(existing.id));
  await repos.audit.save(
    auditEntry(actor, 'approval.delete', {
      package: existing.pattern,
      ruleId: `approval:${existing.id}`,
      details: { range: existing.range, approvalReason: existing.reason, expired: true, expiredAt: existing.expiresAt.toISOString() },
    }),
  );
  return true;
}
