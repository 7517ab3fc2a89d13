import { validation } from '../errors';
import { quoteText } from '../text';
import { exemptionFor } from './release-age';
import { publishedBefore } from './history';
import { defineRule, Denial, Note, RuleMode, RuleRun, RuleSetting } from './types';

export interface NewPublisherSettings {
  mode: RuleMode;
  /** How many earlier versions to look at. */
  previous: number;
  /** Publishers whose versions never trigger the rule. */
  publishers: string[];
}

/** The npm user a manifest names as its publisher (`_npmUser.name`). */
export function publisherOf(manifest: Record<string, unknown> | undefined): string | undefined {
  const user = manifest?._npmUser;
  if (!user || typeof user !== 'object') return undefined;
  const name = (user as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name.slice(0, 214) : undefined;
}

/** Comma-separated names (or a list) for a setting; at most 1000, each at most 214 characters. */
export function namesSetting(api: string, cli: string, what: string): RuleSetting {
  return {
    api,
    cli,
    values: `${what}, comma-separated (default none)`,
    parse(value, key) {
      const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
      if (!list || list.length > 1000 || list.some((n) => typeof n !== 'string' || n.length > 214 || /[\s\u0000-\u001f,]/.test(n.trim()))) {
        throw validation(`${key}.${api} must be a list of ${what} (comma-separated), at most 1000`);
      }
      return [api, [...new Set((list as string[]).map((n) => n.trim()).filter((n) => n !== ''))]];
    },
  };
}

export function newPublisherRule(run: Pick<RuleRun<NewPublisherSettings>, 'settings' | 'ctx' | 'notes'>, exempt: string | undefined): Denial | undefined {
  const { settings, ctx, notes } = run;
  const packument = ctx.packument;
  if (!packument) return undefined;
  const publisher = publisherOf(ctx.manifest);
  if (!publisher) return undefined;
  const previous = publishedBefore(packument, ctx.version, settings.previous);
  // A package's first version has no earlier publisher to compare with.
  if (previous.length === 0) return undefined;
  const earlier = [...new Set(previous.map((v) => publisherOf(packument.versions[v])).filter((p): p is string => p !== undefined))];
  if (earlier.length === 0 || earlier.includes(publisher)) return undefined;
  const spec = `${ctx.name}@${ctx.version}`;
  const said = `${spec} was published by ${quoteText(publisher, 100)}, who published none of the ${previous.length} versions before it (${previous.join(', ')}: published by ${earlier.map((p) => quoteText(p, 100)).join(', ')})`;
  if (settings.publishers.includes(publisher)) {
    notes.push({ rule: 'new-publisher', ruleId: `publisher:${publisher}`, reason: `${said}; ${publisher} is an exempt publisher` });
    return undefined;
  }
  if (exempt) {
    notes.push({ rule: 'new-publisher', ruleId: exempt, reason: `${said}; the package is exempt` });
    return undefined;
  }
  return { code: 'ENEWPUBLISHER', ruleId: 'new-publisher', reason: said, details: { publisher, previousPublishers: earlier, previousVersions: previous } };
}

export const newPublisher = defineRule({
  key: 'newPublisher',
  name: 'new-publisher',
  exemptable: true,
  code: 'ENEWPUBLISHER',
  summary:
    "a version whose publisher (`_npmUser`) published none of the package's previous versions (by publish time): a sign of a stolen account; never a package's first version; exempt per package (`gatekeeper policy exempt new-publisher <name>`) or per publisher",
  defaults: { mode: 'warn' as RuleMode, previous: 5, publishers: [] as string[] },
  settings: [
    {
      api: 'previous',
      cli: 'previous',
      values: 'how many earlier versions to look at, 1 to 100',
      parse(value, key) {
        const n = typeof value === 'string' && /^\d{1,3}$/.test(value) ? Number(value) : value;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100) throw validation(`${key}.previous must be a whole number from 1 to 100`);
        return ['previous', n];
      },
    },
    namesSetting('publishers', 'publishers', 'npm usernames whose versions never trigger it'),
  ],
  show: (v) => `(previous ${String(v.previous)} versions${Array.isArray(v.publishers) && v.publishers.length > 0 ? `; exempt publishers: ${v.publishers.join(', ')}` : ''})`,
  check: (run) => newPublisherRule(run, exemptionFor(run.policy, run.input, 'new-publisher')),
  explain(details) {
    return [`publisher: ${String(details.publisher)}; before: ${Array.isArray(details.previousPublishers) ? details.previousPublishers.join(', ') : ''}`];
  },
  nextStep: (spec, audience) =>
    audience === 'admin'
      ? `Check the release with its maintainers; if the new publisher is expected, exempt them (gatekeeper policy set new-publisher.publishers <names>) or the package (gatekeeper policy exempt new-publisher <name>); run 'gatekeeper explain ${spec}'`
      : `Use an earlier version, or ask for it: gatekeeper request ${spec} --reason '<why you need it>'; run 'gatekeeper explain ${spec}'`,
});

export type { Note };
