import parseSpdx from 'spdx-expression-parse';
import spdxCorrect from 'spdx-correct';
import spdxSatisfies from 'spdx-satisfies';
import { GatekeeperError } from './errors';

/**
 * License policy: (a version's `license`/`licenses` fields, an allowlist, a denylist) -> verdict.
 * Pure: no I/O. `parseLicense` turns whatever a package.json says into a `ParsedLicense`;
 * `evaluateLicense` checks it against a policy compiled once with `compileLicensePolicy`.
 *
 * How each kind is treated:
 *
 * | kind       | example field value                         | evaluable | treatment                                                   |
 * |------------|---------------------------------------------|-----------|-------------------------------------------------------------|
 * | spdx       | "MIT", "(MIT OR Apache-2.0)", licenses: [..]| yes       | expression checked against allow/deny (see below)           |
 * | corrected  | "mit", "Apache 2.0", "MIT License"          | yes       | as spdx, on the corrected expression; correction recorded   |
 * | unlicensed | "UNLICENSED"                                | yes       | proprietary: blocked unless the literal UNLICENSED is on    |
 * |            |                                             |           | the allowlist (and not on the denylist); `unknown` ignored  |
 * | see-file   | "SEE LICENSE IN LICENSE.md"                 | no        | `unknown` setting decides (block by default)                |
 * | url        | "https://example.com/license"               | no        | `unknown` setting decides                                   |
 * | missing    | undefined, null, "", [], {licenses: []}     | no        | `unknown` setting decides                                   |
 * | invalid    | "Foo Public License", "BSD", 42, {url: 1}   | no        | `unknown` setting decides                                   |
 *
 * An spdx expression that cannot be evaluated (spdx-satisfies throws, or it has more than
 * MAX_CLAUSES alternatives once expanded) is also "not evaluable" and follows `unknown`.
 * `LicenseRef-...` ids are valid SPDX and evaluable: they pass only if listed verbatim.
 *
 * Evaluation. The expression is expanded into alternatives (OR) of conjunctions (AND), as
 * spdx-satisfies does itself. A term (an id with its `+` and `WITH exception`) is acceptable
 * when some allowlist entry is satisfied by it (spdx-satisfies(term, [entry])) and the
 * license the licensee then takes is not denied: that is the allow entry when the term is a
 * range (`+` or `-or-later`) and the entry a single version (`GPL-2.0-or-later` taken as
 * `GPL-2.0-only`), otherwise the term itself (conservative when both are ranges). A license
 * is denied when spdx-satisfies(it, [deny entry]) holds, ignoring its WITH exception unless
 * the deny entry names one. This is "the allowlist minus
 * the denylist" applied per term, so ranges on either list cannot smuggle a denied id back in.
 * An alternative passes when all of its terms are acceptable; the version passes when one
 * alternative does. It is *denied* (rather than merely not allowed) when every alternative
 * contains a denied term.
 *
 * What spdx-satisfies 6 does (pinned by the unit tests):
 * - `-or-later` and `+` are the same range and `-only` is the bare version: `GPL-2.0+`,
 *   `GPL-2.0-or-later` and `GPL-3.0-or-later` satisfy an allowlist entry `GPL-3.0-only` (the
 *   licensee may choose 3.0); `GPL-3.0-only` and `GPL-3.0` satisfy `GPL-2.0-or-later`;
 *   `GPL-2.0-only` does not satisfy `GPL-3.0-or-later`. Version order comes from
 *   spdx-ranges (`Apache-2.0` satisfies `Apache-1.1+`, `Apache-1.0` does not).
 * - WITH must match exactly, both ways: `Apache-2.0 WITH LLVM-exception` does not satisfy
 *   `Apache-2.0`, and `Apache-2.0` does not satisfy `Apache-2.0 WITH LLVM-exception`.
 * - It parses with spdx-expression-parse 3, which rejects lower-case operators, so it is
 *   always given canonical text produced here.
 * - Quirk: its "ends with -or-later" test is true for any id of exactly 8 characters, which
 *   then behaves as `id+` (`LGPL-2.1` satisfies `LGPL-3.0-only`, `CDDL-1.0` satisfies
 *   `CDDL-1.1`). Deprecated GNU ids of that length are passed as their `-only` twin (same
 *   meaning, not affected); the other 8-character ids (APSL-*, CDDL-*, EUPL-1.0/1.1, LPPL-*,
 *   ...) are compared by exact id and exception only, so a range never reaches them.
 */

export type LicenseKind = 'spdx' | 'corrected' | 'unlicensed' | 'see-file' | 'url' | 'missing' | 'invalid';

export interface ParsedLicense {
  kind: LicenseKind;
  /** The field value examined: `license`, or `licenses` when `license` is missing. */
  raw: unknown;
  /** spdx and corrected: the canonical expression (upper-case operators, minimal parentheses). */
  expression?: string;
  /** corrected: the text as written in the package. */
  correctedFrom?: string;
  /** see-file: the file named by `SEE LICENSE IN <file>`. */
  file?: string;
  /** url: the http(s) URL given instead of a license. */
  url?: string;
  /** invalid: a short printable form of what was found, for messages. */
  text?: string;
}

export interface LicensePolicy {
  /** SPDX ids (optionally `id+` or `id WITH exception`), LicenseRef-..., or the literal UNLICENSED. */
  allow: string[];
  /** Same syntax; wins over `allow`. */
  deny?: string[];
  /** What to do with licenses that cannot be evaluated; default 'block'. */
  unknown?: 'block' | 'allow';
}

export interface LicenseVerdict {
  allowed: boolean;
  /** False when the license could not be checked and the `unknown` setting decided. */
  evaluable: boolean;
  /** Blocked because every alternative needs a denied license. */
  denied: boolean;
  parsed: ParsedLicense;
  /** When blocked: every term that is not acceptable (denied or not allowed), in order. Empty when allowed. */
  failedIds: string[];
  /** When blocked: the failed terms that are denied. Empty when allowed. */
  deniedIds: string[];
  /** When allowed after evaluation: the terms of the alternative that satisfied the policy. */
  satisfiedBy: string[];
  /** Reads after "<name>@<version> is licensed ...". */
  reason: string;
}

/** The policy with its entries parsed once, and a bounded memo of expression -> verdict. */
export interface CompiledLicensePolicy {
  readonly type: 'compiled-license-policy';
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly unknown: 'block' | 'allow';
  readonly memo: ReadonlyMap<string, Readonly<LicenseMemoEntry>>;
  readonly memoLimit: number;
}

interface Term {
  license: string;
  plus: boolean;
  exception?: string;
  /** Canonical text: `id`, `id+`, `id WITH exception`. */
  text: string;
}

interface CompiledEntry {
  term: Term;
  /** The text handed to spdx-satisfies (see the 8-character quirk above). */
  satisfiesText: string;
}

/** A memoised verdict, without the parsed license it was asked for. */
export interface LicenseMemoEntry {
  allowed: boolean;
  evaluable: boolean;
  denied: boolean;
  failedIds: readonly string[];
  deniedIds: readonly string[];
  satisfiedBy: readonly string[];
  /** Appended to the description of the license. */
  tail: string;
}

interface CompiledState extends CompiledLicensePolicy {
  readonly memo: Map<string, LicenseMemoEntry>;
  readonly allowEntries: CompiledEntry[];
  readonly denyEntries: CompiledEntry[];
  readonly allowUnlicensed: boolean;
  readonly denyUnlicensed: boolean;
  readonly termMemo: Map<string, TermStatus>;
}

type TermStatus = 'ok' | 'denied' | 'not-allowed';

export const DEFAULT_LICENSE_MEMO_LIMIT = 10_000;
/** Longest license text parsed; anything longer is invalid. */
const MAX_TEXT = 1024;
/** Longest text handed to spdx-correct. */
const MAX_CORRECTION_TEXT = 256;
/** Most entries read from a `licenses` array. */
const MAX_ARRAY_ENTRIES = 32;
/** Most alternatives an expression may expand to. */
const MAX_CLAUSES = 256;
const UNLICENSED = 'UNLICENSED';

type Ast = parseSpdx.Info;
type Leaf = parseSpdx.LicenseInfo;

function isLeaf(node: Ast): node is Leaf {
  return (node as Leaf).license !== undefined;
}

function termText(leaf: { license: string; plus?: boolean; exception?: string }): string {
  return `${leaf.license}${leaf.plus ? '+' : ''}${leaf.exception ? ` WITH ${leaf.exception}` : ''}`;
}

/** Upper-case operators; parentheses only around an OR inside an AND (and vice versa, for clarity). */
function serialize(node: Ast, parent?: 'and' | 'or'): string {
  if (isLeaf(node)) return termText(node);
  const text = `${serialize(node.left, node.conjunction)} ${node.conjunction.toUpperCase()} ${serialize(node.right, node.conjunction)}`;
  return parent && parent !== node.conjunction ? `(${text})` : text;
}

function termsOf(node: Ast, out: Term[] = []): Term[] {
  if (isLeaf(node)) {
    out.push({ license: node.license, plus: node.plus === true, exception: node.exception, text: termText(node) });
  } else {
    termsOf(node.left, out);
    termsOf(node.right, out);
  }
  return out;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function tryParse(text: string): Ast | undefined {
  if (text.length === 0 || text.length > MAX_TEXT) return undefined;
  try {
    return parseSpdx(text);
  } catch {
    return undefined;
  }
}

const knownIds = new Map<string, boolean>();

/** True for an id on the SPDX license list (current or deprecated), as spdx-expression-parse knows it. */
export function isKnownLicenseId(id: string): boolean {
  if (typeof id !== 'string' || id.length === 0 || id.length > 100) return false;
  const cached = knownIds.get(id);
  if (cached !== undefined) return cached;
  const ast = tryParse(id);
  const known =
    ast !== undefined &&
    isLeaf(ast) &&
    ast.license === id &&
    !ast.plus &&
    !ast.exception &&
    !id.startsWith('LicenseRef-') &&
    !id.startsWith('DocumentRef-');
  if (knownIds.size >= 5_000) knownIds.clear(); // a cache of a pure function; keep it small
  knownIds.set(id, known);
  return known;
}

/** Every term of an expression (`id`, `id+`, `id WITH exception`), once each, in order; [] if it does not parse. */
export function licenseIdsOf(expression: string): string[] {
  if (typeof expression !== 'string') return [];
  const ast = tryParse(expression.trim());
  return ast ? unique(termsOf(ast).map((t) => t.text)) : [];
}

// ---------------------------------------------------------------------------------------
// Parsing package.json fields

/**
 * Words spdx-correct may add or drop, and the letter `v` before a version ("MPLv2").
 * Kept small on purpose: see `isUnambiguousCorrection`.
 */
const FILLER_WORDS = new Set(['the', 'license', 'licence', 'licensed', 'version', 'clause']);

function skeleton(text: string): string {
  return text
    .toLowerCase()
    .replace(/v(?=\d)/g, '')
    .replace(/\d+(?:\.\d+)*/g, (n) => n.replace(/(?:\.0)+$/, ''))
    .split(/[^a-z0-9+]+/)
    .filter((word) => word.length > 0 && !FILLER_WORDS.has(word))
    .join('');
}

/**
 * A correction is used only when it is unambiguous, decided deterministically:
 *  1. it comes from spdx-correct with `{ upgrade: false }`. With upgrades on, spdx-correct
 *     guesses `-or-later` for some GNU licenses ("GPL 3.0" -> GPL-3.0-or-later) but `-only`
 *     for others ("GPL 2" -> GPL-2.0-only); without, it gives the deprecated id, which SPDX
 *     and spdx-satisfies read as `-only`, the narrower reading;
 *  2. the correction parses as an SPDX expression;
 *  3. the input and the correction have the same skeleton: lower-cased, punctuation and
 *     spaces removed, a `v` before a version dropped, trailing `.0`s dropped, and the words
 *     the/license/licence/licensed/version/clause ignored. So case, punctuation and filler
 *     may change ("mit", "Apache 2.0", "Apache License, Version 2.0", "MPLv2", "BSD-3",
 *     "MIT License") but nothing that carries meaning: no version may be invented ("BSD" ->
 *     BSD-2-Clause, "Apache" -> Apache-2.0, "GPL" -> GPL-3.0-or-later are rejected) or
 *     dropped ("WTFPL 2" -> WTFPL), and no license or operator may be lost ("MIT/ISC" -> MIT,
 *     "mit AND bsd" -> BSD-2-Clause, "MIT or Apache 2.0" -> Apache-2.0 are rejected).
 * "UNLICENSED" is recognised before this (spdx-correct would turn it into Unlicense, a
 * public-domain dedication: the opposite meaning).
 */
function correct(text: string): { expression: string; ast: Ast } | undefined {
  if (text.length > MAX_CORRECTION_TEXT) return undefined;
  let corrected: string | null;
  try {
    corrected = spdxCorrect(text, { upgrade: false });
  } catch {
    return undefined;
  }
  if (typeof corrected !== 'string') return undefined;
  const ast = tryParse(corrected);
  if (!ast || skeleton(text) !== skeleton(corrected)) return undefined;
  return { expression: serialize(ast), ast };
}

interface ParseResult {
  parsed: ParsedLicense;
  /** For spdx and corrected results. */
  ast?: Ast;
  /** The text the expression came from, for recording corrections of arrays. */
  source?: string;
}

function preview(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const SEE_FILE = /^see\s+licen[cs]e\s+in\s+(\S.*)$/i;
const URL = /^https?:\/\/\S+$/i;
const UNLICENSED_TEXT = /^unlicen[cs]ed$/i;

function parseText(raw: unknown, value: string): ParseResult {
  const text = value.trim();
  if (text.length === 0) return { parsed: { kind: 'missing', raw } };
  if (text.length > MAX_TEXT) return { parsed: { kind: 'invalid', raw, text: preview(text) } };
  if (UNLICENSED_TEXT.test(text)) return { parsed: { kind: 'unlicensed', raw } };
  const seeFile = SEE_FILE.exec(text);
  if (seeFile) return { parsed: { kind: 'see-file', raw, file: seeFile[1].trim() } };
  if (URL.test(text)) return { parsed: { kind: 'url', raw, url: text } };
  const ast = tryParse(text);
  if (ast) return { parsed: { kind: 'spdx', raw, expression: serialize(ast) }, ast, source: text };
  const corrected = correct(text);
  if (corrected) {
    return {
      parsed: { kind: 'corrected', raw, expression: corrected.expression, correctedFrom: text },
      ast: corrected.ast,
      source: text,
    };
  }
  return { parsed: { kind: 'invalid', raw, text: preview(text) } };
}

/** A string, or a legacy `{type, url}` object. */
function parseValue(raw: unknown, value: unknown): ParseResult {
  if (value === undefined || value === null) return { parsed: { kind: 'missing', raw } };
  if (typeof value === 'string') return parseText(raw, value);
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { type, url } = value as { type?: unknown; url?: unknown };
    const byType = typeof type === 'string' ? parseText(raw, type) : undefined;
    if (byType && byType.parsed.kind !== 'invalid' && byType.parsed.kind !== 'missing') return byType;
    if (typeof url === 'string' && URL.test(url.trim())) return { parsed: { kind: 'url', raw, url: url.trim() } };
    return byType?.parsed.kind === 'invalid' ? byType : { parsed: { kind: 'invalid', raw, text: preview(value) } };
  }
  return { parsed: { kind: 'invalid', raw, text: preview(value) } };
}

/**
 * An array (the legacy `licenses: [{type, url}]`, or strings) is read as alternatives joined
 * with OR: npm's documentation replaced `licenses: [{type: "MIT"}, {type: "Apache-2.0"}]` with
 * `"(MIT OR Apache-2.0)"`, i.e. the array meant dual licensing. Under OR an entry that cannot
 * be evaluated (or UNLICENSED) is just an alternative the licensee need not take, so it is
 * dropped; if no entry is evaluable, the first entry that is not missing is the result.
 */
function parseArray(raw: unknown, values: unknown[]): ParseResult {
  if (values.length > MAX_ARRAY_ENTRIES) return { parsed: { kind: 'invalid', raw, text: preview(raw) } };
  const results = values.map((v) => (Array.isArray(v) ? { parsed: { kind: 'invalid', raw, text: preview(v) } as ParsedLicense } : parseValue(raw, v)));
  const evaluable = results.filter((r) => r.ast !== undefined);
  if (evaluable.length === 0) {
    const first = results.find((r) => r.parsed.kind !== 'missing');
    return first ? { parsed: { ...first.parsed, raw } } : { parsed: { kind: 'missing', raw } };
  }
  const seen = new Set<string>();
  const distinct = evaluable.filter((r) => {
    const expression = r.parsed.expression as string;
    if (seen.has(expression)) return false;
    seen.add(expression);
    return true;
  });
  const ast = distinct
    .map((r) => r.ast as Ast)
    .reduceRight((right: Ast | undefined, left) => (right ? { left, conjunction: 'or', right } : left), undefined) as Ast;
  const expression = serialize(ast);
  const wasCorrected = distinct.some((r) => r.parsed.kind === 'corrected');
  const source = distinct.map((r) => r.source).join(' OR ');
  const parsed: ParsedLicense = wasCorrected
    ? { kind: 'corrected', raw, expression, correctedFrom: source }
    : { kind: 'spdx', raw, expression };
  return { parsed, ast, source };
}

function parseField(raw: unknown): ParseResult {
  return Array.isArray(raw) ? parseArray(raw, raw) : parseValue(raw, raw);
}

/**
 * Reads a version manifest's license. `license` wins; the legacy `licenses` field is read
 * only when `license` is missing (absent, null, blank, or an empty array). Never throws.
 */
export function parseLicense(manifest: { license?: unknown; licenses?: unknown }): ParsedLicense {
  try {
    if (manifest === null || typeof manifest !== 'object') return { kind: 'missing', raw: undefined };
    const license = parseField(manifest.license);
    if (license.parsed.kind !== 'missing' || manifest.licenses === undefined || manifest.licenses === null) {
      return license.parsed;
    }
    return parseField(manifest.licenses).parsed;
  } catch {
    // Getters that throw, proxies and the like.
    return { kind: 'invalid', raw: undefined, text: 'an unreadable license field' };
  }
}

/** A short description for reports: 'MIT', 'MIT (corrected from "mit")', 'SEE LICENSE IN LICENSE.md', ... */
export function describeLicense(parsed: ParsedLicense): string {
  switch (parsed?.kind) {
    case 'spdx':
      return parsed.expression ?? 'an empty expression';
    case 'corrected':
      return `${parsed.expression ?? ''} (corrected from ${JSON.stringify(parsed.correctedFrom ?? '')})`;
    case 'unlicensed':
      return UNLICENSED;
    case 'see-file':
      return `SEE LICENSE IN ${parsed.file ?? ''}`;
    case 'url':
      return parsed.url ?? 'a URL';
    case 'missing':
      return 'no license field';
    default:
      return `unrecognised license ${JSON.stringify(parsed?.text ?? preview(parsed?.raw))}`;
  }
}

// ---------------------------------------------------------------------------------------
// Policy

function policyError(message: string): GatekeeperError {
  return new GatekeeperError('EVALIDATION', `invalid license policy: ${message}`);
}

/**
 * Why an allowlist or denylist entry is not usable, or undefined when it is. Entries are a
 * single term written canonically: `MIT`, `GPL-2.0+`, `GPL-3.0-or-later`,
 * `Apache-2.0 WITH LLVM-exception`, `LicenseRef-Acme`, or the literal `UNLICENSED`.
 */
export function licensePolicyEntryError(entry: unknown): string | undefined {
  if (typeof entry !== 'string') return `license entries must be strings, not ${preview(entry)}`;
  if (entry === UNLICENSED) return undefined;
  if (UNLICENSED_TEXT.test(entry.trim())) return `'${entry}' should be written '${UNLICENSED}'`;
  const ast = tryParse(entry);
  if (!ast) {
    const hint = correct(entry.trim());
    return `'${entry}' is not an SPDX license identifier${hint && isLeaf(hint.ast) ? ` (did you mean '${hint.expression}'?)` : ''}`;
  }
  if (!isLeaf(ast)) return `'${entry}' is an expression; list each license as a separate entry`;
  const canonical = serialize(ast);
  if (canonical !== entry) return `'${entry}' should be written '${canonical}'`;
  try {
    spdxSatisfies('MIT', [entry]);
  } catch (err) {
    return `'${entry}' is not supported by spdx-satisfies (${(err as Error).message})`;
  }
  return undefined;
}

/**
 * spdx-satisfies reads any 8-character id as `id+` (see the top of the file). For the
 * deprecated GNU ids among them the `-only` twin means the same and is read correctly.
 */
function satisfiesText(term: Term): string {
  const { license } = term;
  const id = !term.plus && license.length === 8 && isKnownLicenseId(`${license}-only`) ? `${license}-only` : license;
  return termText({ license: id, plus: term.plus, exception: term.exception });
}

/** An 8-character id without an `-only` twin: spdx-satisfies cannot compare it correctly. */
function isQuirky(license: string): boolean {
  return license.length === 8 && !isKnownLicenseId(`${license}-only`);
}

function compileEntry(entry: string): CompiledEntry {
  const ast = parseSpdx(entry) as Leaf;
  const term: Term = { license: ast.license, plus: ast.plus === true, exception: ast.exception, text: entry };
  return { term, satisfiesText: satisfiesText(term) };
}

function compileList(name: string, list: unknown): { entries: CompiledEntry[]; unlicensed: boolean; texts: string[] } {
  if (list === undefined || list === null) return { entries: [], unlicensed: false, texts: [] };
  if (!Array.isArray(list)) throw policyError(`'${name}' must be a list of SPDX license identifiers`);
  const texts = unique(list as string[]);
  for (const entry of texts) {
    const error = licensePolicyEntryError(entry);
    if (error) throw policyError(`${name}: ${error}`);
  }
  return {
    entries: texts.filter((t) => t !== UNLICENSED).map(compileEntry),
    unlicensed: texts.includes(UNLICENSED),
    texts,
  };
}

/** Throws a GatekeeperError (EVALIDATION) naming the first unusable entry. */
export function compileLicensePolicy(policy: LicensePolicy, options: { memoLimit?: number } = {}): CompiledLicensePolicy {
  if (!policy || typeof policy !== 'object') throw policyError('the policy must be an object');
  const unknown = policy.unknown ?? 'block';
  if (unknown !== 'block' && unknown !== 'allow') throw policyError(`'unknown' must be 'block' or 'allow', not '${String(unknown)}'`);
  const allow = compileList('allow', policy.allow);
  const deny = compileList('deny', policy.deny);
  const memoLimit = Math.max(1, Math.floor(options.memoLimit ?? DEFAULT_LICENSE_MEMO_LIMIT));
  const state: CompiledState = {
    type: 'compiled-license-policy',
    allow: Object.freeze(allow.texts),
    deny: Object.freeze(deny.texts),
    unknown,
    memo: new Map(),
    memoLimit,
    allowEntries: allow.entries,
    denyEntries: deny.entries,
    allowUnlicensed: allow.unlicensed,
    denyUnlicensed: deny.unlicensed,
    termMemo: new Map(),
  };
  return state;
}

function isCompiled(policy: LicensePolicy | CompiledLicensePolicy): policy is CompiledLicensePolicy {
  return (policy as CompiledLicensePolicy).type === 'compiled-license-policy';
}

// ---------------------------------------------------------------------------------------
// Evaluation

/** spdx-satisfies(term, [entry]), around its 8-character quirk. Throws what it throws. */
function satisfiesEntry(term: Term, entry: CompiledEntry): boolean {
  if ((term.exception ?? '') !== (entry.term.exception ?? '')) return false;
  if (isQuirky(term.license) || isQuirky(entry.term.license)) return term.license === entry.term.license;
  return spdxSatisfies(satisfiesText(term), [entry.satisfiesText]);
}

/** `id+` or `id-or-later`: a range of versions the licensee chooses from. */
function isRange(term: Term): boolean {
  return term.plus || term.license.endsWith('-or-later');
}

function isDenied(term: Term, state: CompiledState): boolean {
  return state.denyEntries.some((d) => satisfiesEntry(d.term.exception ? term : { ...term, exception: undefined }, d));
}

function remember<K, V>(map: Map<K, V>, limit: number, key: K, value: V): void {
  if (map.size >= limit) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

function termStatus(term: Term, state: CompiledState): TermStatus {
  const cached = state.termMemo.get(term.text);
  if (cached) return cached;
  let status: TermStatus = isDenied(term, state) ? 'denied' : 'not-allowed';
  for (const entry of state.allowEntries) {
    if (!satisfiesEntry(term, entry)) continue;
    // The license actually taken: one version picked out of a range, or the term itself.
    const taken = isRange(term) && !isRange(entry.term) ? { ...entry.term, exception: term.exception } : term;
    if (!isDenied(taken, state)) {
      status = 'ok';
      break;
    }
    status = 'denied';
  }
  remember(state.termMemo, state.memoLimit, term.text, status);
  return status;
}

class TooComplex extends Error {}

/** Alternatives (OR) of conjunctions (AND), like spdx-satisfies' own expansion. */
function expand(node: Ast): Term[][] {
  if (isLeaf(node)) return [termsOf(node)];
  const left = expand(node.left);
  const right = expand(node.right);
  if (node.conjunction === 'or') {
    if (left.length + right.length > MAX_CLAUSES) throw new TooComplex();
    return [...left, ...right];
  }
  if (left.length * right.length > MAX_CLAUSES) throw new TooComplex();
  return left.flatMap((l) => right.map((r) => [...l, ...r]));
}

function unknownTail(state: CompiledState, why?: string): string {
  return `${why ? `, which cannot be evaluated (${why})` : ''}, and unknown licenses are ${state.unknown === 'allow' ? 'allowed' : 'blocked'}`;
}

function evaluateExpression(expression: string, state: CompiledState): LicenseMemoEntry {
  const notEvaluable = (why: string): LicenseMemoEntry => ({
    allowed: state.unknown === 'allow',
    evaluable: false,
    denied: false,
    failedIds: [],
    deniedIds: [],
    satisfiedBy: [],
    tail: unknownTail(state, why),
  });
  const ast = tryParse(expression);
  if (!ast) return notEvaluable('it is not an SPDX expression');
  let clauses: Term[][];
  try {
    clauses = expand(ast);
  } catch (err) {
    return notEvaluable(err instanceof TooComplex ? `more than ${MAX_CLAUSES} alternatives` : String((err as Error)?.message ?? err));
  }
  const terms = termsOf(ast);
  const status = new Map<string, TermStatus>();
  try {
    for (const term of terms) if (!status.has(term.text)) status.set(term.text, termStatus(term, state));
  } catch (err) {
    return notEvaluable(`spdx-satisfies: ${(err as Error)?.message ?? String(err)}`);
  }
  const passing = clauses.find((clause) => clause.every((t) => status.get(t.text) === 'ok'));
  if (passing) {
    const satisfiedBy = unique(passing.map((t) => t.text));
    const as = clauses.length > 1 ? ` (as ${satisfiedBy.join(' AND ')})` : '';
    return { allowed: true, evaluable: true, denied: false, failedIds: [], deniedIds: [], satisfiedBy, tail: `, which the license policy allows${as}` };
  }
  const failedIds = unique(terms.map((t) => t.text).filter((t) => status.get(t) !== 'ok'));
  const deniedIds = failedIds.filter((t) => status.get(t) === 'denied');
  const denied = clauses.every((clause) => clause.some((t) => status.get(t.text) === 'denied'));
  const details =
    terms.length > 1
      ? ` (${failedIds.map((t) => `${t} is ${status.get(t) === 'denied' ? 'denied' : 'not allowed'}`).join('; ')})`
      : '';
  return {
    allowed: false,
    evaluable: true,
    denied,
    failedIds,
    deniedIds,
    satisfiedBy: [],
    tail: `, which the license policy ${denied ? 'denies' : 'does not allow'}${details}`,
  };
}

function verdictOf(parsed: ParsedLicense, subject: string, entry: LicenseMemoEntry): LicenseVerdict {
  return {
    allowed: entry.allowed,
    evaluable: entry.evaluable,
    denied: entry.denied,
    parsed,
    failedIds: [...entry.failedIds],
    deniedIds: [...entry.deniedIds],
    satisfiedBy: [...entry.satisfiedBy],
    reason: `${subject}${entry.tail}`,
  };
}

/** The phrase after "is licensed" for a license that cannot be evaluated. */
function unknownSubject(parsed: ParsedLicense): string {
  switch (parsed.kind) {
    case 'see-file':
      return `under a license file (${JSON.stringify(describeLicense(parsed))})`;
    case 'url':
      return `under a license at a URL (${parsed.url ?? ''})`;
    case 'missing':
      return 'under no declared license (no license field)';
    default:
      return `an unrecognised license (${JSON.stringify(parsed.text ?? preview(parsed.raw))})`;
  }
}

function evaluateCompiled(parsed: ParsedLicense, state: CompiledState): LicenseVerdict {
  const blank: Omit<LicenseMemoEntry, 'allowed' | 'tail'> = { evaluable: true, denied: false, failedIds: [], deniedIds: [], satisfiedBy: [] };
  switch (parsed.kind) {
    case 'spdx':
    case 'corrected': {
      const expression = parsed.expression;
      if (typeof expression !== 'string') break;
      let entry = state.memo.get(expression);
      if (entry) {
        // Least recently used goes first.
        state.memo.delete(expression);
        state.memo.set(expression, entry);
      } else {
        entry = Object.freeze(evaluateExpression(expression, state));
        remember(state.memo, state.memoLimit, expression, entry);
      }
      return verdictOf(parsed, describeLicense(parsed), entry);
    }
    case 'unlicensed': {
      const subject = `${UNLICENSED} (proprietary)`;
      if (state.denyUnlicensed) {
        return verdictOf(parsed, subject, { ...blank, allowed: false, denied: true, failedIds: [UNLICENSED], deniedIds: [UNLICENSED], tail: ', which the license policy denies' });
      }
      if (state.allowUnlicensed) {
        return verdictOf(parsed, subject, { ...blank, allowed: true, satisfiedBy: [UNLICENSED], tail: ', which the license policy allows' });
      }
      return verdictOf(parsed, subject, { ...blank, allowed: false, failedIds: [UNLICENSED], tail: ', which the license policy does not allow' });
    }
    default:
      break;
  }
  return verdictOf(parsed, unknownSubject(parsed), { ...blank, evaluable: false, allowed: state.unknown === 'allow', tail: unknownTail(state) });
}

/**
 * Checks a parsed license against a policy. Pass a policy compiled with
 * `compileLicensePolicy` (it memoises verdicts per expression); a plain policy is compiled
 * on every call. Never throws: an invalid plain policy, or anything unexpected, gives a
 * blocking, not evaluable verdict.
 */
export function evaluateLicense(parsed: ParsedLicense, policy: LicensePolicy | CompiledLicensePolicy): LicenseVerdict {
  try {
    const state = (isCompiled(policy) ? policy : compileLicensePolicy(policy)) as CompiledState;
    return evaluateCompiled(parsed, state);
  } catch (err) {
    let subject: string;
    try {
      subject = describeLicense(parsed);
    } catch {
      subject = 'an unreadable license';
    }
    const message = err instanceof Error ? err.message : String(err);
    return {
      allowed: false,
      evaluable: false,
      denied: false,
      parsed,
      failedIds: [],
      deniedIds: [],
      satisfiedBy: [],
      reason: `${subject}, which could not be checked (${message})`,
    };
  }
}
