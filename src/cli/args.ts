import { shownValue } from '../core/text';
import type { FlagSpecs } from './command';

/** A small argument parser: `--flag`, `--key value`, `--key=value`, positionals; only declared flags. */
export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | true>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Splits argv by the command's declared flags. A flag that is not declared is refused (a
 * misspelt `--expire` must not turn a 30-day approval into a permanent one), naming the flag
 * and the declared one it is closest to; a switch takes no value; a flag that takes a value
 * takes the next argument (or the text after `=`), and is refused without one. Everything
 * after `--` is positional.
 */
export function parseArgs(argv: string[], declared: FlagSpecs): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = Object.prototype.hasOwnProperty.call(declared, key) ? declared[key] : undefined;
    if (!spec) throw new UsageError(unknownFlag(key, declared));
    const name = spec.aliasOf ?? key;
    if (!spec.value) {
      if (eq !== -1) throw new UsageError(`--${key} is a switch and takes no value; give it as --${key}`);
      flags[name] = true;
    } else if (eq !== -1) {
      flags[name] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      flags[name] = argv[++i];
    } else {
      throw new UsageError(`--${key} needs a value: --${key} ${spec.value}`);
    }
  }
  return { positionals, flags };
}

function unknownFlag(key: string, declared: FlagSpecs): string {
  const shown = `--${shownValue(key, 60)}`;
  const names = Object.keys(declared);
  const close = closestFlag(key, names);
  if (close) return `unknown flag ${shown}; did you mean --${close}?`;
  const known = names.filter((n) => !declared[n].aliasOf && n !== 'help').map((n) => (declared[n].value ? `--${n} ${declared[n].value}` : `--${n}`));
  return `unknown flag ${shown}; ${known.length ? `this command takes ${known.join(', ')}` : 'this command takes no flags'}`;
}

/** The declared flag a misspelt one most likely meant: within a small edit distance, or the only one it begins. */
export function closestFlag(key: string, names: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(lower, name);
    if (distance <= Math.max(1, Math.floor(name.length / 3)) && (!best || distance < best.distance)) best = { name, distance };
  }
  if (best) return best.name;
  const prefixed = lower.length >= 3 ? names.filter((n) => n.startsWith(lower)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Math.abs(a.length - b.length);
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

export function requirePositional(args: ParsedArgs, index: number, what: string): string {
  const value = args.positionals[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}
