import type { Approval } from '../core/policy';
import type { Repositories } from '../db/store';
import { Actor, auditEntry } from './audit';

/**
 * The live approval of exactly `pattern@range`; one that has expired is removed (audited as
 * approval.delete, `expired: true`), so that approving that spec again makes a live one: the
 * spec is unique, and an expired approval approves nothing. Returns the spec's live approval,
 * if it has one. Inside the caller's transaction, before it saves the spec's approval.
 */
export async function liveApprovalOf(repos: Repositories, actor: Actor, pattern: string, range: string, now: number): Promise<Approval | undefined> {
  const existing = await repos.policy.findApprovalBySpec(pattern, range);
  if (!existing || existing.expiresAt === null || existing.expiresAt.getTime() > now) return existing;
  await repos.policy.removeApproval(Number(existing.id));
  await repos.audit.save(
    auditEntry(actor, 'approval.delete', {
      package: existing.pattern,
      ruleId: `approval:${existing.id}`,
      details: { range: existing.range, approvalReason: existing.reason, expired: true, expiredAt: existing.expiresAt.toISOString() },
    }),
  );
  return undefined;
}
