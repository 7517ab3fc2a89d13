import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, AuditJson, BanJson, Checks, ExplanationJson, Json, PackageView, RequestJson, RequestSummary, SessionView, TokenJson, UserJson } from './api';
import type { ProjectsService } from '../services/projects';
import { href, Link, Location, navigate } from './router';
import { consolePathOf } from '../core/console-path';

type Usage = Json<Awaited<ReturnType<ProjectsService['usage']>>>;

const when = (s: string | null | undefined) => (s ? new Date(s).toISOString().slice(0, 16).replace('T', ' ') : '—');
const pkgHref = (name: string, version?: string) => href(`/packages/${encodeURIComponent(name).replace(/^%40/, '@')}${version ? `?version=${encodeURIComponent(version)}` : ''}`);

/** Loads once per key; errors become a message (with the server's code). */
function useLoad<T>(load: () => Promise<T>, key: unknown[]): { data?: T; error?: string; reload: () => void } {
  const id = JSON.stringify(key);
  const [state, setState] = useState<{ id?: string; data?: T; error?: string }>({});
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ id, data }),
      (err: unknown) => live && setState({ id, error: describe(err) }),
    );
    return () => {
      live = false;
    };
  }, [...key, n]);
  // What another key loaded is never shown, not even for the one render before its effect runs
  // (a filtered page would show the unfiltered rows for a frame); a reload of the same key keeps
  // showing what it has meanwhile.
  const shown = state.id === id ? state : {};
  return { data: shown.data, error: shown.error, reload: () => setN((x) => x + 1) };
}

function describe(err: unknown): string {
  if (err instanceof ApiError) return `[${err.code}] ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

function Failure({ error }: { error?: string }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

function Status({ allowed, code }: { allowed: boolean; code: string }) {
  return <span class={allowed ? 'ok' : 'blocked'}>{allowed ? 'allowed' : `blocked ${code}`}</span>;
}

function Field(props: { id: string; label: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** What an approval, a ban and a release-age exemption are made from. */
interface EntryInput {
  name: string;
  range: string;
  reason: string;
}

/**
 * The form that makes an approval, a ban or an exemption: a name, a range and a reason (plus
 * the caller's own fields as children). It keeps its own state and clears it after a save.
 */
function EntryForm(props: {
  id: string;
  title: string;
  labels: { name: string; range: string; reason: string };
  submit: string;
  busy: boolean;
  run: (fn: () => Promise<unknown>) => Promise<void>;
  onSave: (entry: EntryInput) => Promise<void>;
  onSaved?: () => void;
  children?: ComponentChildren;
}) {
  const empty: EntryInput = { name: '', range: '*', reason: '' };
  const [entry, setEntry] = useState(empty);
  const field = (key: keyof EntryInput) => ({ id: `${props.id}-${key}`, value: entry[key], onInput: (e: { currentTarget: { value: string } }) => setEntry({ ...entry, [key]: e.currentTarget.value }) });
  return (
    <form
      class="panel"
      aria-labelledby={`${props.id}-title`}
      onSubmit={(e) => {
        e.preventDefault();
        void props.run(async () => {
          await props.onSave(entry);
          setEntry(empty);
          props.onSaved?.();
        });
      }}
    >
      <h3 id={`${props.id}-title`}>{props.title}</h3>
      <Field id={`${props.id}-name`} label={props.labels.name}>
        <input required {...field('name')} />
      </Field>
      <Field id={`${props.id}-range`} label={props.labels.range}>
        <input required {...field('range')} />
      </Field>
      <Field id={`${props.id}-reason`} label={props.labels.reason}>
        <textarea required {...field('reason')} />
      </Field>
      {props.children}
      <button type="submit" disabled={props.busy}>
        {props.submit}
      </button>
    </form>
  );
}

/** A form whose submit runs an API call, shows its error, and reports success. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

// ---------------------------------------------------------------- sign in

/**
 * The sign-in page: "Sign in with <IdP>" when SSO is configured (a link through the IdP back
 * to this page, docs/sso.md), and the password form unless password login is off.
 */
export function SignInPage({ onSignedIn }: { onSignedIn: (s: SessionView) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const options = useLoad(() => api.signInOptions(), []);
  // Back to the page that asked for the sign-in (a console path; the server checks it again).
  const next = (() => {
    const asked = consolePathOf(new URLSearchParams(location.search).get('next'));
    return asked ?? (location.pathname.startsWith('/-/gatekeeper/ui/signin') ? '/-/gatekeeper/ui/' : `${location.pathname}${location.search}`);
  })();
  const sso = options.data?.sso;
  const passwordForm = options.data ? options.data.password : true;
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <Failure error={options.error} />
      {sso && (
        <p>
          <a class="button" href={`${sso.url}?next=${encodeURIComponent(next)}`}>
            Sign in with {sso.name}
          </a>
        </p>
      )}
      {sso && passwordForm && <p class="hint">Or with a password of this registry:</p>}
      {passwordForm && <form
        onSubmit={(e) => {
          e.preventDefault();
          action.run(async () => onSignedIn(await api.signIn(username, password)));
        }}
      >
        <Field id="username" label="Username">
          <input id="username" name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field id="password" label="Password">
          <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <Failure error={action.error} />
        <button type="submit" disabled={action.busy}>
          Sign in
        </button>
      </form>}
    </section>
  );
}

// ---------------------------------------------------------------- overview

export function OverviewPage({ session }: { session: SessionView }) {
  const isAdmin = session.role === 'admin';
  const health = useLoad(() => api.health(), []);
  const pending = useLoad(() => api.requests({ status: 'pending', mine: !isAdmin }), []);
  const since = new Date(Date.now() - 14 * 86400_000).toISOString().slice(0, 10);
  const blocked = useLoad(() => (isAdmin ? api.audit({ action: 'install.blocked', since, limit: 500 }) : Promise.resolve(undefined)), []);
  // Anonymous callers of a registry that requires a login get liveness only; the console is signed in.
  const h = health.data && 'database' in health.data ? health.data : undefined;
  const state = (part: { ok: boolean; error?: string | null } | undefined) =>
    part && <span class={part.ok ? 'ok' : 'blocked'}>{part.ok ? 'ok' : `failing${part.error ? ` (${part.error})` : ''}`}</span>;
  return (
    <section>
      <h1>Overview</h1>
      <h2>Health</h2>
      <Failure error={health.error} />
      {h && (
        <ul class="health">
          <li>
            Overall: <span class={h.ok ? 'ok' : 'blocked'}>{h.ok ? 'healthy' : 'failing'}</span>
          </li>
          <li>Database: {state(h.database)}</li>
          <li>
            Upstream: {state(h.upstream)} <span class="hint">{h.upstream.url}</span>
          </li>
          <li>
            Advisory source: {state({ ok: h.advisories.ok, error: h.advisories.lastError })} (rule {h.advisories.mode})
          </li>
          <li>Policy: {state(h.policy)}</li>
          <li>Audit log writer: {state(h.audit)}</li>
        </ul>
      )}
      <h2>{isAdmin ? 'Pending requests' : 'Your pending requests'}</h2>
      <Failure error={pending.error} />
      {pending.data && (pending.data.items.length === 0 ? <p>None.</p> : <RequestTable items={pending.data.items} />)}
      {isAdmin && (
        <>
          <h2>Blocked installs, last 14 days, by code</h2>
          <Failure error={blocked.error} />
          {blocked.data && <BlockedChart entries={blocked.data.items} since={since} />}
        </>
      )}
    </section>
  );
}

const CODE_COLOURS = ['#1f4e9c', '#a33b00', '#2e6b1f', '#6a2c91', '#8a6d00', '#005f66', '#8c1d40'];

function BlockedChart({ entries, since }: { entries: AuditJson[]; since: string }) {
  const days: string[] = [];
  for (let t = Date.parse(since); t <= Date.now(); t += 86400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const codes = [...new Set(entries.map((e) => String((e.details as { code?: unknown }).code ?? e.ruleId ?? 'blocked')))].sort();
  const counts = new Map<string, number>();
  for (const e of entries) {
    const code = String((e.details as { code?: unknown }).code ?? e.ruleId ?? 'blocked');
    const key = `${e.at.slice(0, 10)}|${code}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const max = Math.max(1, ...days.map((d) => codes.reduce((n, c) => n + (counts.get(`${d}|${c}`) ?? 0), 0)));
  const W = 40;
  const H = 160;
  return (
    <figure>
      <svg role="img" aria-label={`Blocked installs per day: ${entries.length} in total`} width={days.length * W + 40} height={H + 40} viewBox={`0 0 ${days.length * W + 40} ${H + 40}`}>
        <text x="0" y="12" font-size="11" fill="#222">
          {max}
        </text>
        {days.map((d, i) => {
          let y = H + 10;
          return (
            <g key={d}>
              {codes.map((c, ci) => {
                const n = counts.get(`${d}|${c}`) ?? 0;
                if (!n) return null;
                const h = (n / max) * H;
                y -= h;
                return (
                  <rect key={c} x={30 + i * W} y={y} width={W - 8} height={h} fill={CODE_COLOURS[ci % CODE_COLOURS.length]}>
                    <title>{`${d} ${c}: ${n}`}</title>
                  </rect>
                );
              })}
              <text x={30 + i * W} y={H + 26} font-size="10" fill="#222">
                {d.slice(5)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        {codes.length === 0 ? 'No blocked installs.' : codes.map((c, ci) => <span key={c} class={`legend legend-${ci % CODE_COLOURS.length}`}>{c} </span>)}
      </figcaption>
    </figure>
  );
}

// ---------------------------------------------------------------- packages

export function PackageSearchPage({ query, tag }: { query: string; tag: string }) {
  const [name, setName] = useState(query);
  const [chosenTag, setChosenTag] = useState(tag);
  const found = useLoad(() => api.catalogue({ q: query, tag }), [query, tag]);
  const tags = useLoad(() => api.tags(), []);
  const target = (q: string, t: string) => href(`/packages${q || t ? `?${new URLSearchParams({ ...(q ? { q } : {}), ...(t ? { tag: t } : {}) })}` : ''}`);
  return (
    <section>
      <h1>Packages</h1>
      <form
        role="search"
        aria-label="Packages"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(target(name.trim(), chosenTag));
        }}
      >
        <Field id="package-name" label="Package name" hint="Known packages whose name contains the text are listed; any exact name opens its page.">
          <input id="package-name" aria-describedby="package-name-hint" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. left-pad or @scope/name" />
        </Field>
        <Field id="package-tag" label="Tag">
          <select id="package-tag" value={chosenTag} onChange={(e) => setChosenTag(e.currentTarget.value)}>
            <option value="">any tag</option>
            {tags.data?.items.map((t) => (
              <option key={t.slug} value={t.slug}>
                {t.name}
              </option>
            ))}
          </select>
        </Field>
        <div class="buttons">
          <button type="submit">Search</button>
          <button type="button" disabled={!name.trim()} onClick={() => navigate(pkgHref(name.trim()))}>
            Open this exact name
          </button>
        </div>
      </form>
      <Failure error={found.error} />
      {found.data && (
        <table>
          <caption>
            {query ? `Known packages containing “${query}”` : 'Known packages'}
            {tag ? ` tagged ${tag}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Newest allowed</th>
              <th scope="col">License</th>
              <th scope="col">Tags</th>
              <th scope="col">Origin</th>
            </tr>
          </thead>
          <tbody>
            {found.data.items.map((p) => (
              <tr key={p.name}>
                <td>
                  <Link to={pkgHref(p.name)}>{p.name}</Link>
                </td>
                <td>{p.newestAllowed ?? 'none'}</td>
                <td>{p.license ?? ''}</td>
                <td>{p.tags.map((t) => t.name).join(', ')}</td>
                <td>{p.private ? 'private' : 'upstream'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {found.data && found.data.items.length === 0 && <p>No known package matches. Open the exact name to fetch it from the upstream.</p>}
    </section>
  );
}

/** A package's tags; admins and publishers assign and remove them (the API checks the role). */
function TagsPanel({ name, session }: { name: string; session: SessionView }) {
  const assigned = useLoad(() => api.packageTags(name), [name]);
  const mayTag = session.role === 'admin' || session.role === 'publisher';
  const all = useLoad(() => (mayTag ? api.tags() : Promise.resolve({ items: [] })), [mayTag]);
  const [choice, setChoice] = useState('');
  const action = useAction();
  const free = (all.data?.items ?? []).filter((t) => !assigned.data?.tags.some((a) => a.slug === t.slug));
  return (
    <section aria-labelledby="tags-heading" class="panel">
      <h2 id="tags-heading">Tags</h2>
      <Failure error={assigned.error ?? action.error} />
      {assigned.data && assigned.data.tags.length === 0 && <p>No tags.</p>}
      {assigned.data && assigned.data.tags.length > 0 && (
        <ul class="tags">
          {assigned.data.tags.map((t) => (
            <li key={t.slug}>
              <strong>{t.name}</strong> <small>(by {t.assignedBy})</small>{' '}
              {mayTag && (
                <button type="button" disabled={action.busy} aria-label={`Remove the tag ${t.name}`} onClick={() => action.run(async () => (await api.unassignTag(name, t.slug), assigned.reload()))}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {mayTag && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (choice) action.run(async () => (await api.assignTag(name, choice), setChoice(''), assigned.reload()));
          }}
        >
          <Field id="assign-tag" label="Assign a tag">
            <select id="assign-tag" value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
              <option value="">choose a tag</option>
              {free.map((t) => (
                <option key={t.slug} value={t.slug}>
                  {t.name}
                </option>
              ))}
            </select>
          </Field>
          <button type="submit" disabled={action.busy || !choice}>
            Assign
          </button>
        </form>
      )}
    </section>
  );
}

export function PackagePage({ name, version, session }: { name: string; version?: string; session: SessionView }) {
  const pkg = useLoad(() => api.pkg(name), [name]);
  const [explained, setExplained] = useState<string | undefined>(version);
  const selected = pkg.data?.versions.find((v) => v.version === version);
  return (
    <section>
      <h1>{name}</h1>
      <Failure error={pkg.error} />
      {!pkg.data && !pkg.error && <p>Loading…</p>}
      {pkg.data && version && (
        <div class={`verdict ${selected?.allowed ? 'ok-box' : 'blocked-box'}`} role="status">
          <h2>
            {name}@{version}
          </h2>
          {selected ? (
            selected.allowed ? (
              <p>This version may be installed. {selected.reason}</p>
            ) : (
              <p>
                <strong>Blocked ({selected.code}):</strong> {selected.reason}
              </p>
            )
          ) : (
            <p>This version is not among the package's versions shown here.</p>
          )}
        </div>
      )}
      {pkg.data && <TagsPanel name={name} session={session} />}
      {pkg.data && <RequestForm name={name} pkg={pkg.data} version={version} session={session} />}
      {pkg.data && explained && <ExplainPanel name={name} version={explained} />}
      {pkg.data && (
        <>
          <h2>Versions</h2>
          <p>
            {pkg.data.versions.length} of {pkg.data.totalVersions} versions, newest first.
          </p>
          <table>
            <caption class="sr-only">Versions of {name}</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Published</th>
                <th scope="col">License</th>
                <th scope="col">Install scripts</th>
                <th scope="col">Advisories</th>
                <th scope="col">Origin</th>
                <th scope="col">Decision</th>
                <th scope="col">Reason</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pkg.data.versions.map((v) => (
                <tr key={v.version} class={v.version === version ? 'selected' : undefined}>
                  <th scope="row">{v.version}</th>
                  <td>{when(v.publishedAt)}</td>
                  <td>{v.license}</td>
                  <td>{v.installScripts.length ? v.installScripts.join(', ') : 'none'}</td>
                  <td>{v.advisories.length ? v.advisories.join('; ') : 'none'}</td>
                  <td>{v.origin}</td>
                  <td>
                    <Status allowed={v.allowed} code={v.code} />
                  </td>
                  <td>{v.allowed ? '' : v.reason}</td>
                  <td>
                    <button type="button" onClick={() => setExplained(v.version)} aria-label={`Explain ${name}@${v.version}`}>
                      Explain
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function ExplainPanel({ name, version }: { name: string; version: string }) {
  const explanation = useLoad<ExplanationJson>(() => api.explain(name, version), [name, version]);
  const usage = useLoad<Usage>(() => api.usage(`${name}@${version}`) as Promise<Usage>, [name, version]);
  return (
    <section class="panel" aria-labelledby="explain-title">
      <h2 id="explain-title">
        Explain {name}@{version}
      </h2>
      <Failure error={explanation.error} />
      {explanation.data && (
        <>
          <p class="explain-message">{explanation.data.message}</p>
          <table>
            <caption>Rules that matched</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Effect</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {explanation.data.decision.matches.map((m, i) => (
                <tr key={i}>
                  <td>{m.ruleId}</td>
                  <td>{m.effect}</td>
                  <td>{m.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h3>Recorded projects using it</h3>
      <Failure error={usage.error} />
      {usage.data &&
        (usage.data.projects.length === 0 ? (
          <p>No recorded project uses this version.</p>
        ) : (
          <ul>
            {usage.data.projects.map((p) => (
              <li key={`${p.project}@${p.projectVersion}`}>
                {p.project}@{p.projectVersion}
                {p.dev ? ' (dev)' : ''}
              </li>
            ))}
          </ul>
        ))}
    </section>
  );
}

function RequestForm({ name, pkg, version }: { name: string; pkg: PackageView; version?: string; session: SessionView }) {
  const [range, setRange] = useState(version ?? pkg.distTags.latest ?? '');
  const [reason, setReason] = useState('');
  const [withDeps, setWithDeps] = useState(true);
  const [filed, setFiled] = useState<RequestJson | undefined>();
  const action = useAction();
  return (
    <form
      class="panel"
      aria-labelledby="request-title"
      onSubmit={(e) => {
        e.preventDefault();
        action.run(async () => setFiled(await api.createRequest({ name, range, reason, withDependencies: withDeps })));
      }}
    >
      <h2 id="request-title">Request this version</h2>
      <Field id="request-range" label="Version or range">
        <input id="request-range" required value={range} onInput={(e) => setRange(e.currentTarget.value)} />
      </Field>
      <Field id="request-reason" label="Why it is needed">
        <textarea id="request-reason" required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </Field>
      <div class="check">
        <input id="request-deps" type="checkbox" checked={withDeps} onChange={(e) => setWithDeps(e.currentTarget.checked)} />
        <label for="request-deps">Request its dependencies too</label>
      </div>
      <Failure error={action.error} />
      <button type="submit" disabled={action.busy}>
        Request this version
      </button>
      {filed && (
        <p role="status" class="ok-box">
          Request <Link to={href(`/requests/${filed.id}`)}>#{filed.id}</Link> filed ({filed.status}): {filed.summary}
        </p>
      )}
    </form>
  );
}

// ---------------------------------------------------------------- requests

function RequestTable({ items }: { items: RequestSummary[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Package</th>
          <th scope="col">Requester</th>
          <th scope="col">Status</th>
          <th scope="col">Checks</th>
          <th scope="col">Filed</th>
        </tr>
      </thead>
      <tbody>
        {items.map((r) => (
          <tr key={r.id}>
            <td>
              <Link to={href(`/requests/${r.id}`)}>#{r.id}</Link>
            </td>
            <td>
              {r.name}@{r.range}
              {r.sourceRequestId ? ` (dependency of #${r.sourceRequestId})` : ''}
            </td>
            <td>{r.requester}</td>
            <td>{r.status}</td>
            <td>{r.summary}</td>
            <td>{when(r.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RequestsPage({ session }: { session: SessionView }) {
  const isAdmin = session.role === 'admin';
  const mine = useLoad(() => api.requests({ mine: true }), []);
  const queue = useLoad(() => (isAdmin ? api.requests({ status: 'pending' }) : Promise.resolve(undefined)), []);
  return (
    <section>
      <h1>Requests</h1>
      {isAdmin && (
        <>
          <h2>Queue</h2>
          <Failure error={queue.error} />
          {queue.data && (queue.data.items.length === 0 ? <p>No pending requests.</p> : <RequestTable items={queue.data.items} />)}
        </>
      )}
      <h2>Your requests</h2>
      <Failure error={mine.error} />
      {mine.data && (mine.data.items.length === 0 ? <p>You have filed no requests. Open a package to request one of its versions.</p> : <RequestTable items={mine.data.items} />)}
    </section>
  );
}

export function RequestPage({ id, session }: { id: number; session: SessionView }) {
  const request = useLoad(() => api.request(id), [id]);
  const [comment, setComment] = useState('');
  const [withDeps, setWithDeps] = useState(true);
  const action = useAction();
  const r = request.data;
  const checks = r?.checks as Checks | undefined;
  const tree = checks?.tree && 'nodes' in checks.tree ? checks.tree : undefined;
  return (
    <section>
      <h1>Request #{id}</h1>
      <Failure error={request.error} />
      {r && (
        <>
          <dl class="facts">
            <dt>Package</dt>
            <dd>
              <Link to={pkgHref(r.name)}>{r.name}</Link>@{r.range}
            </dd>
            <dt>Requester</dt>
            <dd>{r.requester}</dd>
            <dt>Reason</dt>
            <dd>{r.reason}</dd>
            <dt>Status</dt>
            <dd id="request-status">{r.status}</dd>
            <dt>Checks</dt>
            <dd>{r.summary}</dd>
            {r.comment && (
              <>
                <dt>Comment</dt>
                <dd>{r.comment}</dd>
              </>
            )}
          </dl>
          {checks?.versions && checks.versions.length > 0 && (
            <table>
              <caption>Automated checks per version</caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">License</th>
                  <th scope="col">Install scripts</th>
                  <th scope="col">Deprecated</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {checks.versions.map((v) => (
                  <tr key={v.version}>
                    <td>{v.version}</td>
                    <td>{v.license}</td>
                    <td>{v.installScripts ? 'yes' : 'no'}</td>
                    <td>{v.deprecated ? 'yes' : 'no'}</td>
                    <td>
                      {v.code} {v.reason}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Dependency tree</h2>
          {checks?.tree && 'error' in checks.tree && <p class="error">{checks.tree.error}</p>}
          {tree ? (
            <table>
              <caption>Each node with its decision (root {tree.root})</caption>
              <thead>
                <tr>
                  <th scope="col">Package</th>
                  <th scope="col">Required by</th>
                  <th scope="col">License</th>
                  <th scope="col">Install scripts</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {tree.nodes.map((n) => (
                  <tr key={`${n.name}@${n.version}`}>
                    <td>
                      {n.name}@{n.version}
                    </td>
                    <td>{n.parent ?? '—'}</td>
                    <td>{n.license}</td>
                    <td>{n.installScripts ? 'yes' : 'no'}</td>
                    <td>
                      <Status allowed={n.allowed} code={n.code} /> {n.allowed ? '' : n.reason}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            !checks?.tree && <p>No dependency tree was resolved for this request.</p>
          )}
          {r.children && r.children.length > 0 && (
            <>
              <h2>Dependency requests</h2>
              <RequestTable items={r.children} />
            </>
          )}
          {session.role === 'admin' && r.status === 'pending' && (
            <form class="panel" aria-labelledby="decide-title" onSubmit={(e) => e.preventDefault()}>
              <h2 id="decide-title">Decide</h2>
              <Field id="decision-comment" label="Comment">
                <textarea id="decision-comment" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
              </Field>
              <div class="check">
                <input id="decision-deps" type="checkbox" checked={withDeps} onChange={(e) => setWithDeps(e.currentTarget.checked)} />
                <label for="decision-deps">Approve its dependency requests too</label>
              </div>
              <Failure error={action.error} />
              <div class="buttons">
                <button type="button" disabled={action.busy} onClick={() => action.run(async () => (await api.approve(id, comment, withDeps), request.reload()))}>
                  Approve
                </button>
                <button type="button" class="danger" disabled={action.busy} onClick={() => action.run(async () => (await api.reject(id, comment), request.reload()))}>
                  Reject
                </button>
              </div>
            </form>
          )}
        </>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- policy

const RULE_MODES = ['enforce', 'warn', 'off'] as const;

/** Rule settings with a fixed set of values (the others, such as releaseAge.minimum, are typed in). */
const SETTING_CHOICES: Record<string, readonly string[]> = {
  'advisories.severity': ['low', 'moderate', 'high', 'critical'],
  'advisories.unavailable': ['warn', 'block'],
  'releaseAge.unknownAge': ['allow', 'block'],
};

/** A remove button whose change carries the page's reason. */
function RemoveButton(props: { label: string; onRemove: () => Promise<unknown> }) {
  return (
    <button type="button" class="danger" aria-label={props.label} onClick={props.onRemove}>
      Remove
    </button>
  );
}

export function PolicyPage({ session }: { session: SessionView }) {
  const isAdmin = session.role === 'admin';
  const policy = useLoad(() => api.policy(), []);
  const bans = useLoad(() => api.bans(), []);
  const approvals = useLoad(() => api.approvals(), []);
  const exemptions = useLoad(() => api.exemptions(), []);
  const licenses = useLoad(() => api.licenses(), []);
  const waivers = useLoad(() => api.waivers(), []);
  const publishRules = useLoad(() => api.publishRules(), []);
  const [reason, setReason] = useState('');
  // The approval form's own fields; name, range and reason live in EntryForm.
  const [approval, setApproval] = useState({ expiresIn: '', allowScripts: false });
  const [waiver, setWaiver] = useState({ name: '', range: '*', reason: '', expiresIn: '90d' });
  const [license, setLicense] = useState<{ allow: string; deny: string; unknown: string } | undefined>();
  const [rule, setRule] = useState({ pattern: '', principal: 'role:publisher' });
  const action = useAction();
  /** Changes without a reason field of their own take the page's reason; none is sent without one. */
  const withReason = (fn: (reason: string) => Promise<unknown>, reload: () => void) =>
    action.run(async () => {
      if (!reason.trim()) throw new Error('Give a reason for the change first (the "Reason for changes" field); it is recorded in the audit log');
      await fn(reason.trim());
      reload();
    });
  const lic = licenses.data;
  const licenseForm = license ?? (lic ? { allow: lic.allow.join(', '), deny: lic.deny.join(', '), unknown: lic.unknown } : undefined);
  const ids = (s: string) => s.split(/[\s,]+/).filter(Boolean);
  return (
    <section>
      <h1>Policy</h1>
      {isAdmin && (
        <div class="panel">
          <Field id="change-reason" label="Reason for changes (recorded in the audit log)" hint="Asked for every change on this page that has no reason field of its own.">
            <textarea id="change-reason" aria-describedby="change-reason-hint" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </Field>
        </div>
      )}
      <Failure error={action.error} />
      <Failure error={policy.error} />
      {policy.data && (
        <>
          <h2>Mode</h2>
          <p>
            The policy is in <strong>{policy.data.mode}</strong> mode (generation {policy.data.generation}):{' '}
            {policy.data.mode === 'allowlist' ? 'only approved versions install.' : 'everything not blocked by a rule installs.'}
          </p>
          {isAdmin && (
            <p>
              <button type="button" onClick={() => withReason((r) => api.updatePolicy({ mode: policy.data!.mode === 'allowlist' ? 'open' : 'allowlist' }, r), policy.reload)}>
                Switch to {policy.data.mode === 'allowlist' ? 'open' : 'allowlist'} mode
              </button>
            </p>
          )}
          <table>
            <caption>Rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Mode</th>
                <th scope="col">Settings</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(policy.data.rules).map(([name, settings]) => {
                const { mode, ...rest } = settings as { mode: string } & Record<string, unknown>;
                return (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      {isAdmin ? (
                        <>
                          <label class="sr-only" for={`rule-${name}`}>
                            Mode of the {name} rule
                          </label>
                          <select id={`rule-${name}`} value={mode} onChange={(e) => withReason((r) => api.updatePolicy({ [name]: { mode: e.currentTarget.value } }, r), policy.reload)}>
                            {RULE_MODES.map((m) => (
                              <option key={m} value={m}>
                                {m}
                              </option>
                            ))}
                          </select>
                        </>
                      ) : (
                        mode
                      )}
                    </td>
                    <td>
                      {Object.entries(rest)
                        .filter(([k]) => k !== 'minimumMs')
                        .map(([key, value]) => {
                          const id = `rule-${name}-${key}`;
                          const choices = SETTING_CHOICES[`${name}.${key}`];
                          const save = (v: string) => withReason((r) => api.updatePolicy({ [name]: { [key]: v } }, r), policy.reload);
                          if (!isAdmin) return <span key={key} class="setting">{`${key}: ${String(value)}`}</span>;
                          return (
                            <span key={key} class="setting">
                              <label for={id}>{key}</label>{' '}
                              {choices ? (
                                <select id={id} value={String(value)} onChange={(e) => save(e.currentTarget.value)}>
                                  {choices.map((c) => (
                                    <option key={c} value={c}>
                                      {c}
                                    </option>
                                  ))}
                                </select>
                              ) : (
                                // Uncontrolled, keyed by the stored value: a policy reload while the admin types
                                // (after another change) keeps what they typed; a new stored value replaces it.
                                <input id={id} key={String(value)} size={8} defaultValue={String(value)} onChange={(e) => save(e.currentTarget.value)} />
                              )}
                            </span>
                          );
                        })}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}

      <h2>Approvals</h2>
      <Failure error={approvals.error} />
      {approvals.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Range</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
              <th scope="col">Expires</th>
              <th scope="col">Scripts</th>
              {isAdmin && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {approvals.data.items.map((a) => (
              <tr key={a.id}>
                <td>{a.pattern}</td>
                <td>{a.range}</td>
                <td>{a.reason}</td>
                <td>{a.approvedBy}</td>
                <td>{a.expiresAt ? when(a.expiresAt) : 'never'}</td>
                <td>{a.allowScripts ? 'allowed' : 'no'}</td>
                {isAdmin && (
                  <td>
                    <RemoveButton label={`Remove the approval of ${a.pattern}@${a.range}`} onRemove={() => withReason((r) => api.deleteApproval(a.id, r), approvals.reload)} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <EntryForm
          id="approval"
          title="Approve a package"
          labels={{ name: 'Package name or @scope/*', range: 'Approved range', reason: 'Reason for the approval' }}
          submit="Approve"
          busy={action.busy}
          run={action.run}
          onSave={(entry) => api.createApproval({ ...entry, expiresIn: approval.expiresIn || undefined, allowScripts: approval.allowScripts }).then(() => undefined)}
          onSaved={() => {
            setApproval({ expiresIn: '', allowScripts: false });
            approvals.reload();
          }}
        >
          <Field id="approval-expires" label="Expires in (e.g. 90d; empty: never)">
            <input id="approval-expires" value={approval.expiresIn} onInput={(e) => setApproval({ ...approval, expiresIn: e.currentTarget.value })} />
          </Field>
          <div class="check">
            <input id="approval-scripts" type="checkbox" checked={approval.allowScripts} onChange={(e) => setApproval({ ...approval, allowScripts: e.currentTarget.checked })} />
            <label for="approval-scripts">Allow its install scripts</label>
          </div>
        </EntryForm>
      )}

      <h2>Bans</h2>
      <Failure error={bans.error} />
      {bans.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Range</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
              <th scope="col">Created</th>
              {isAdmin && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {bans.data.items.map((b: BanJson) => (
              <tr key={b.id}>
                <td>
                  <Link to={pkgHref(b.name)}>{b.name}</Link>
                </td>
                <td>{b.range}</td>
                <td>{b.reason}</td>
                <td>{b.bannedBy}</td>
                <td>{when(b.createdAt)}</td>
                {isAdmin && (
                  <td>
                    <RemoveButton label={`Remove the ban on ${b.name}@${b.range}`} onRemove={() => withReason((r) => api.deleteBan(Number(b.id), r), bans.reload)} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <EntryForm
          id="ban"
          title="Ban a package"
          labels={{ name: 'Package name', range: 'Version or range', reason: 'Reason (shown in every refusal)' }}
          submit="Ban"
          busy={action.busy}
          run={action.run}
          onSave={(entry) => api.createBan(entry).then(() => undefined)}
          onSaved={bans.reload}
        />
      )}

      <h2>Release-age exemptions</h2>
      <Failure error={exemptions.error} />
      {exemptions.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Range</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
              {isAdmin && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {exemptions.data.items.map((x) => (
              <tr key={x.id}>
                <td>{x.pattern}</td>
                <td>{x.range}</td>
                <td>{x.reason}</td>
                <td>{x.createdBy}</td>
                {isAdmin && (
                  <td>
                    <RemoveButton label={`Remove the exemption of ${x.pattern}@${x.range}`} onRemove={() => withReason((r) => api.deleteExemption(x.id, r), exemptions.reload)} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <EntryForm
          id="exemption"
          title="Exempt from the minimum release age"
          labels={{ name: 'Package name or @scope/*', range: 'Exempt range', reason: 'Reason for the exemption' }}
          submit="Exempt"
          busy={action.busy}
          run={action.run}
          onSave={(entry) => api.createExemption(entry).then(() => undefined)}
          onSaved={exemptions.reload}
        />
      )}

      <h2>Licenses</h2>
      <Failure error={licenses.error} />
      {lic && licenseForm && (
        <form
          class="panel"
          aria-labelledby="license-title"
          onSubmit={(e) => {
            e.preventDefault();
            withReason((r) => api.setLicenses({ allow: ids(licenseForm.allow), deny: ids(licenseForm.deny), unknown: licenseForm.unknown }, r), () => {
              setLicense(undefined);
              licenses.reload();
            });
          }}
        >
          <h3 id="license-title">License policy ({lic.enabled ? 'on' : 'off: the allowlist is empty'})</h3>
          <Field id="license-allow" label="Allowed licenses (SPDX ids, comma-separated)">
            <textarea id="license-allow" readOnly={!isAdmin} value={licenseForm.allow} onInput={(e) => setLicense({ ...licenseForm, allow: e.currentTarget.value })} />
          </Field>
          <Field id="license-deny" label="Denied licenses (win over allowed)">
            <textarea id="license-deny" readOnly={!isAdmin} value={licenseForm.deny} onInput={(e) => setLicense({ ...licenseForm, deny: e.currentTarget.value })} />
          </Field>
          <Field id="license-unknown" label="Licenses that cannot be evaluated">
            <select id="license-unknown" disabled={!isAdmin} value={licenseForm.unknown} onChange={(e) => setLicense({ ...licenseForm, unknown: e.currentTarget.value })}>
              <option value="block">block</option>
              <option value="allow">allow</option>
            </select>
          </Field>
          {isAdmin && (
            <button type="submit" disabled={action.busy}>
              Save the license policy
            </button>
          )}
        </form>
      )}
      <h3>License waivers</h3>
      <Failure error={waivers.error} />
      {waivers.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Range</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
              <th scope="col">Expires</th>
              {isAdmin && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {waivers.data.items.map((w) => (
              <tr key={w.id}>
                <td>{w.name}</td>
                <td>{w.range}</td>
                <td>{w.reason}</td>
                <td>{w.approvedBy}</td>
                <td>{w.expiresAt ? when(w.expiresAt) : 'never'}</td>
                {isAdmin && (
                  <td>
                    <RemoveButton label={`Remove the waiver for ${w.name}@${w.range}`} onRemove={() => withReason((r) => api.deleteWaiver(w.id, r), waivers.reload)} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <form
          class="panel"
          aria-labelledby="waiver-title"
          onSubmit={(e) => {
            e.preventDefault();
            action.run(async () => {
              await api.createWaiver({ ...waiver, expiresIn: waiver.expiresIn || undefined });
              setWaiver({ name: '', range: '*', reason: '', expiresIn: '90d' });
              waivers.reload();
            });
          }}
        >
          <h4 id="waiver-title">Waive the license rule</h4>
          <Field id="waiver-name" label="Package name">
            <input id="waiver-name" required value={waiver.name} onInput={(e) => setWaiver({ ...waiver, name: e.currentTarget.value })} />
          </Field>
          <Field id="waiver-range" label="Waived range">
            <input id="waiver-range" required value={waiver.range} onInput={(e) => setWaiver({ ...waiver, range: e.currentTarget.value })} />
          </Field>
          <Field id="waiver-reason" label="Reason for the waiver">
            <textarea id="waiver-reason" required value={waiver.reason} onInput={(e) => setWaiver({ ...waiver, reason: e.currentTarget.value })} />
          </Field>
          <Field id="waiver-expires" label="Waiver expires in (e.g. 90d)">
            <input id="waiver-expires" value={waiver.expiresIn} onInput={(e) => setWaiver({ ...waiver, expiresIn: e.currentTarget.value })} />
          </Field>
          <button type="submit" disabled={action.busy}>
            Waive
          </button>
        </form>
      )}

      <h2>Publish rules</h2>
      <Failure error={publishRules.error} />
      {publishRules.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Pattern</th>
              <th scope="col">Who may publish</th>
              <th scope="col">Shadows upstream</th>
              <th scope="col">By</th>
              {isAdmin && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {publishRules.data.items.map((p) => (
              <tr key={p.id}>
                <td>{p.pattern}</td>
                <td>
                  {p.principalType} {p.principal}
                </td>
                <td>{p.shadowUpstream ? 'yes' : 'no'}</td>
                <td>{p.createdBy}</td>
                {isAdmin && (
                  <td>
                    <RemoveButton label={`Remove the publish rule for ${p.pattern}`} onRemove={() => withReason((r) => api.deletePublishRule(p.id, r), publishRules.reload)} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <form
          class="panel"
          aria-labelledby="publish-title"
          onSubmit={(e) => {
            e.preventDefault();
            const [kind, who] = rule.principal.split(':');
            withReason((r) => api.createPublishRule({ pattern: rule.pattern, ...(kind === 'role' ? { role: who } : { user: who }) }, r), () => {
              setRule({ pattern: '', principal: 'role:publisher' });
              publishRules.reload();
            });
          }}
        >
          <h3 id="publish-title">Add a publish rule</h3>
          <Field id="publish-pattern" label="Package name or @scope/*">
            <input id="publish-pattern" required value={rule.pattern} onInput={(e) => setRule({ ...rule, pattern: e.currentTarget.value })} />
          </Field>
          <Field id="publish-principal" label="Who may publish (role:NAME or user:NAME)">
            <input id="publish-principal" required pattern="(role|user):.+" value={rule.principal} onInput={(e) => setRule({ ...rule, principal: e.currentTarget.value })} />
          </Field>
          <button type="submit" disabled={action.busy}>
            Add the rule
          </button>
        </form>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- audit

const AUDIT_FIELDS = ['package', 'actor', 'action', 'since', 'until'] as const;

export function AuditPage({ loc }: { loc: Location }) {
  const filter = Object.fromEntries(AUDIT_FIELDS.map((f) => [f, loc.query.get(f) ?? ''])) as Record<(typeof AUDIT_FIELDS)[number], string>;
  const cursor = loc.query.get('cursor') ?? undefined;
  const [form, setForm] = useState(filter);
  const page = useLoad(() => api.audit({ ...filter, cursor, limit: 50 }), [loc.full]);
  const to = (params: Record<string, string | undefined>) => {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v) as Array<[string, string]>).toString();
    return href(`/audit${q ? `?${q}` : ''}`);
  };
  return (
    <section>
      <h1>Audit</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(to(form));
        }}
      >
        {AUDIT_FIELDS.map((f) => (
          <Field key={f} id={`audit-${f}`} label={f === 'since' ? 'Since (date)' : f === 'until' ? 'Until (date)' : f[0].toUpperCase() + f.slice(1)}>
            <input id={`audit-${f}`} type={f === 'since' || f === 'until' ? 'date' : 'text'} value={form[f]} onInput={(e) => setForm({ ...form, [f]: e.currentTarget.value })} />
          </Field>
        ))}
        <button type="submit">Filter</button>
      </form>
      <Failure error={page.error} />
      {page.data && (
        <>
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Package</th>
                <th scope="col">Rule</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td>{e.package ? `${e.package}${e.version ? `@${e.version}` : ''}` : ''}</td>
                  <td>{e.ruleId ?? ''}</td>
                  <td class="details">{JSON.stringify(e.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.data.items.length === 0 && <p>No entries match.</p>}
          <p class="buttons">
            {cursor && <Link to={to(filter)}>First page</Link>}
            {page.data.nextCursor && <Link to={to({ ...filter, cursor: page.data.nextCursor })}>Next page</Link>}
          </p>
        </>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- tokens and admin

function TokenTable({ tokens, onRevoke }: { tokens: TokenJson[]; onRevoke: (id: number) => void }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Id</th>
          <th scope="col">User</th>
          <th scope="col">Prefix</th>
          <th scope="col">Created from</th>
          <th scope="col">Created</th>
          <th scope="col">Expires</th>
          <th scope="col">Last used</th>
          <th scope="col">Revoked</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {tokens.map((t) => (
          <tr key={t.id}>
            <td>{t.id}</td>
            <td>{t.username}</td>
            <td>
              <code>{t.prefix}…</code>
            </td>
            <td>
              {t.createdFrom ?? ''}
              {t.scope ? ` (scope ${t.scope})` : ''}
            </td>
            <td>{when(t.createdAt)}</td>
            <td>{when(t.expiresAt)}{!t.revokedAt && t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? ' (expired)' : ''}</td>
            <td>{when(t.lastUsedAt)}</td>
            <td>{t.revokedAt ? `${when(t.revokedAt)} by ${t.revokedBy}` : 'no'}</td>
            <td>
              {!t.revokedAt && (
                <button type="button" class="danger" aria-label={`Revoke token ${t.id}`} onClick={() => onRevoke(t.id)}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TokensPage({ session }: { session: SessionView }) {
  const tokens = useLoad(() => api.tokens(), []);
  const action = useAction();
  return (
    <section>
      <h1>Tokens</h1>
      <p>{session.role === 'admin' ? 'Every user’s tokens and console sessions.' : 'Your tokens and console sessions.'} This session is token {session.tokenId}.</p>
      <Failure error={tokens.error ?? action.error} />
      {tokens.data && <TokenTable tokens={tokens.data.items} onRevoke={(id) => action.run(async () => (await api.revokeToken(id), tokens.reload()))} />}
    </section>
  );
}

export function AdminPage(_props: { session: SessionView }) {
  const users = useLoad(() => api.users(), []);
  const [user, setUser] = useState({ username: '', password: '', role: 'developer' });
  const action = useAction();
  return (
    <section>
      <h1>Admin</h1>
      <h2>Users</h2>
      <Failure error={users.error ?? action.error} />
      {users.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Disabled</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.data.items.map((u: UserJson) => (
              <tr key={u.id}>
                <td>{u.username}</td>
                <td>
                  <label class="sr-only" for={`role-${u.username}`}>
                    Role of {u.username}
                  </label>
                  <select id={`role-${u.username}`} value={u.role} onChange={(e) => action.run(async () => (await api.setRole(u.username, e.currentTarget.value), users.reload()))}>
                    {['admin', 'publisher', 'developer', 'reader'].map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{when(u.createdAt)}</td>
                <td>{u.disabledAt ? when(u.disabledAt) : 'no'}</td>
                <td>
                  <button type="button" onClick={() => action.run(async () => (await api.setDisabled(u.username, !u.disabledAt), users.reload()))}>
                    {u.disabledAt ? `Enable ${u.username}` : `Disable ${u.username}`}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        class="panel"
        aria-labelledby="user-title"
        onSubmit={(e) => {
          e.preventDefault();
          action.run(async () => {
            await api.createUser(user);
            setUser({ username: '', password: '', role: 'developer' });
            users.reload();
          });
        }}
      >
        <h2 id="user-title">Add a user</h2>
        <Field id="user-name" label="Username">
          <input id="user-name" required value={user.username} onInput={(e) => setUser({ ...user, username: e.currentTarget.value })} />
        </Field>
        <Field id="user-password" label="Password (at least 8 characters)">
          <input id="user-password" type="password" autoComplete="new-password" required minLength={8} value={user.password} onInput={(e) => setUser({ ...user, password: e.currentTarget.value })} />
        </Field>
        <Field id="user-role" label="Role">
          <select id="user-role" value={user.role} onChange={(e) => setUser({ ...user, role: e.currentTarget.value })}>
            <option value="admin">admin</option>
            <option value="publisher">publisher</option>
            <option value="developer">developer</option>
            <option value="reader">reader</option>
          </select>
        </Field>
        <button type="submit" disabled={action.busy}>
          Add user
        </button>
      </form>
      <h2>Tokens</h2>
      <p>
        <Link to={href('/tokens')}>Every token and session</Link>, with revoke.
      </p>
    </section>
  );
}
