import { quoteText } from '../text';
import { defineRule, Denial, RuleMode, VersionContext } from './types';

export function deprecatedRule(ctx: VersionContext): Denial | undefined {
  const message = ctx.manifest?.deprecated;
  if (typeof message !== 'string' || message === '') return undefined;
  // The author's text, quoted: one line, no control characters, at most MAX_QUOTED characters.
  return { code: 'EDEPRECATED', ruleId: 'deprecated', reason: `${ctx.name}@${ctx.version} is deprecated: ${quoteText(message)}` };
}

export const deprecated = defineRule({
  key: 'deprecated',
  name: 'deprecated',
  code: 'EDEPRECATED',
  summary: 'a deprecated version',
  defaults: { mode: 'off' as RuleMode },
  settings: [],
  check: ({ ctx }) => deprecatedRule(ctx),
});
