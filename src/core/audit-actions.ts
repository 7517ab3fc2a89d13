/**
 * Every action the audit log records, with what it means. The `AuditAction` type comes from
 * this table, so an entry cannot name an action that is not here; docs/policy.md lists the
 * same table (test/unit/core/audit-actions.test.ts fails when they differ).
 */
export const AUDIT_ACTIONS = {
  'user.create': 'a user was created (by an admin, the first start, or self-registration)',
  'user.disable': 'an admin disabled a user; every token and console session of theirs is revoked (each a token.revoke; details.revokedTokens: how many), so enabling them again restores none',
  'user.enable': 'an admin enabled a disabled user again (with none of the tokens or sessions they had: disabling revoked them)',
  'user.password': "a user's password was changed: by the user with the current one (by: self, via npm profile set password) or reset by an admin (by: admin); their console sessions are revoked (each a token.revoke; details.revokedSessions: how many), their npm tokens stay",
  'user.role': "an admin changed a user's role, or a token with a publish scope raised a service account from reader to publisher; it applies from their next request",
  'user.login_refused': 'a password check failed (unknown user, wrong password, disabled user; npm login, Basic credentials, npm token create): only the first failure per username and per client address in each throttle window, with the count so far',
  'user.login_throttled': 'a username or client address reached its limit of failed password checks; further checks are refused (429) until the window ends',
  'token.create': 'a token was issued (npm login, npm token create)',
  'token.revoke': 'a token was revoked',
  'user.sso_sign_in': 'a user signed in through the identity provider (npm web login or the console); the user is created at the first one, with the groups and the role they gave',
  'user.sso_refused': 'a sign-in through the identity provider was refused (in no mapped group, disabled, username taken) or failed a check (state, PKCE, issuer, nonce)',
  'user.sso_role': "a sign-in through the identity provider changed the user's role (their groups changed); on a demotion their tokens are revoked",
  'user.service_account': 'an admin created a service account (a CI user that is no IdP user, without a password)',
  'approval.create': 'an approval was added (directly or by approving a request)',
  'approval.delete': 'an approval was removed',
  'ban.create': 'a ban was added',
  'ban.delete': 'a ban was removed',
  'policy.mode': 'the policy mode changed (allowlist or open)',
  'policy.rules': 'supply-chain rule settings changed (modes, thresholds)',
  'exemption.create': 'an exemption from a rule (release-age, new-publisher, provenance-downgrade) was added',
  'exemption.delete': 'an exemption from a rule was removed',
  'license.policy': 'the license allowlist, denylist or unknown-license setting changed',
  'license.waiver.create': 'a license waiver was added',
  'license.waiver.delete': 'a license waiver was removed',
  'install.blocked': 'a packument, version or tarball request was refused by the policy',
  'install.warned': 'a warn-mode rule matched a version that was served anyway (once per version, rule and policy generation)',
  'package.publish': 'a version was published (with details.recovered: found in storage though its publish never recorded it, e.g. the process was killed; recorded with the stored tarball\'s digests)',
  'package.claim': 'a name a glob publish rule covers was claimed by its first publish (the upstream did not have it); it is private from then on',
  'package.publish_refused': "a publish was refused (the name is not private, the user or the token's scope may not publish it, the version exists, the version or the body is invalid, the tarball disagrees with its manifest), or the registry refused it after these checks (with the code and message the client got)",
  'package.publish_failed': 'an accepted publish failed while being stored (with the code and message the client got), or, actor `$system`, its process died before storing it (found by the `publishing.reconcile` job or the next publish of the version, with the `reason`, `publisher` and `noticedBy`); what it wrote was removed and the version released again, unless storage could not be read or cleaned (`kept`: it stays reserved until settled)',
  'package.unpublish': 'a version was unpublished',
  'package.unpublish_refused': 'an unpublish of a whole package was refused',
  'package.change_refused': 'a change to a package document that unpublishes some of its versions was refused',
  'package.remove_tarball': 'the tarball of a version that is no longer listed was removed (the last step of npm unpublish)',
  'package.remove_tarball_refused': "a tarball removal was refused (its version is still listed, the unpublish policy, the user or the token's scope may not write the package)",
  'package.deprecate': 'a version was deprecated or un-deprecated (npm deprecate, or any package document written back)',
  'package.deprecate_refused': "a deprecation (a package document written back without a tarball) was refused (the user or the token's scope may not write the package, it would remove versions, the package is not here)",
  'package.star_refused': "a star (npm star, npm unstar) was refused (the user or the token's scope may not write the package)",
  'package.dist_tag': 'a dist-tag was added, moved or removed (npm dist-tag, or a package document written back: one entry per tag, with from, to and via "document")',
  'package.dist_tag_refused': 'a dist-tag change was refused',
  'publish_rule.create': 'a publish rule was added (by an admin or from the configuration file)',
  'publish_rule.delete': 'a publish rule was removed',
  'advisory.import': 'an advisory was imported from an OSV file',
  'advisory.flag': 'an admin flagged a package or range as malware',
  'advisory.override': 'an admin overrode one advisory or malware entry (a false positive)',
  'advisory.unoverride': "an admin undid an entry's override",
  'request.create': 'a package request was filed (with its dependencies, or in a batch)',
  'request.approve': 'a package request was approved',
  'request.reject': 'a package request was rejected',
  'request.cancel': 'a package request was cancelled by its requester or an admin',
  'project.record': "a project's lockfile was recorded (usage)",
  'tag.create': 'an admin created a tag (name, slug, colour, description)',
  'tag.update': 'an admin renamed a tag or changed its slug, colour or description',
  'tag.delete': 'an admin deleted a tag (soft: it leaves every package, its row stays)',
  'tag.assign': 'an admin or publisher assigned a tag to a package',
  'tag.unassign': 'an admin or publisher removed a tag from a package',
  'webhook.create': 'an admin registered a webhook (its URL, query hidden, and events; never its secret)',
  'webhook.delete': 'an admin removed a webhook (its queued deliveries and delivery log go with it)',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

/** Actions recorded when a registry write is refused. */
export type RefusedWriteAction = Extract<AuditAction, `package.${string}_refused`>;
type WithoutRefused<T> = T extends `${infer Write}_refused` ? Write : never;
/** The registry writes whose refusal has an action: `${RefusableWrite}_refused` is one. */
export type RefusableWrite = WithoutRefused<RefusedWriteAction>;

export function isAuditAction(value: string): value is AuditAction {
  return Object.prototype.hasOwnProperty.call(AUDIT_ACTIONS, value);
}

export const AUDIT_ACTION_LIST: readonly AuditAction[] = Object.keys(AUDIT_ACTIONS) as AuditAction[];

/** The table as the Markdown docs/policy.md shows it. */
export function auditActionsMarkdown(): string {
  return ['| action | recorded when |', '| --- | --- |', ...AUDIT_ACTION_LIST.map((a) => `| \`${a}\` | ${AUDIT_ACTIONS[a]} |`)].join('\n');
}
