import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, SessionView, setCsrf } from './api';
import { href, Link, navigate, useLocation } from './router';
import { consolePathOf } from '../core/console-path';
import { AdminPage, AuditPage, OverviewPage, PackagePage, PackageSearchPage, PolicyPage, RequestPage, RequestsPage, SignInPage, TokensPage } from './pages';
import './styles.css';

const NAV: Array<{ path: string; label: string; admin?: boolean }> = [
  { path: '/', label: 'Overview' },
  { path: '/packages', label: 'Packages' },
  { path: '/requests', label: 'Requests' },
  { path: '/policy', label: 'Policy' },
  { path: '/audit', label: 'Audit', admin: true },
  { path: '/tokens', label: 'Tokens' },
  { path: '/admin', label: 'Admin', admin: true },
];

function App() {
  const loc = useLocation();
  const [session, setSession] = useState<SessionView | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    api.session().then(
      (s) => {
        setCsrf(s);
        setSession(s);
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status !== 401) setError(err.message);
        setSession(null);
      },
    );
  }, []);

  // A page's title names it, for screen readers and browser history alike.
  const page = loc.segments[0] ?? '';
  // After moving to another page, the keyboard and screen readers start at its content.
  const shown = useRef<string | undefined>(undefined);
  const where = loc.segments.join('/');
  useEffect(() => {
    if (shown.current !== undefined && shown.current !== where) document.getElementById('main')?.focus();
    shown.current = where;
  }, [where]);
  useEffect(() => {
    const label = NAV.find((n) => n.path === `/${page}`)?.label ?? (page === 'signin' ? 'Sign in' : 'Overview');
    document.title = `${label} · npm-gatekeeper`;
  }, [page]);

  if (session === undefined) return <p class="loading">Loading…</p>;

  const signedIn = (s: SessionView) => {
    setCsrf(s);
    setSession(s);
    // Signed in on the page a link opened: stay there; from the sign-in page, go on.
    if (page === 'signin') navigate(afterSignIn(loc.query.get('next')), true);
  };

  if (!session || page === 'signin') {
    if (session && page === 'signin') {
      navigate(afterSignIn(loc.query.get('next')), true);
      return null;
    }
    return (
      <>
        <header class="top">
          <span class="brand">npm-gatekeeper</span>
        </header>
        <main id="main">
          {error && <p role="alert" class="error">{error}</p>}
          <SignInPage onSignedIn={signedIn} />
        </main>
      </>
    );
  }

  const isAdmin = session.role === 'admin';
  const signOut = async () => {
    try {
      await api.signOut();
    } catch {
      // Signed out or not, the console forgets the session.
    }
    setCsrf(undefined);
    setSession(null);
    navigate(href('/signin'), true);
  };

  let content;
  switch (page) {
    case '':
      content = <OverviewPage session={session} />;
      break;
    case 'packages':
      content = loc.segments[1] ? <PackagePage name={loc.segments.slice(1).join('/')} version={loc.query.get('version') ?? undefined} session={session} /> : <PackageSearchPage query={loc.query.get('q') ?? ''} tag={loc.query.get('tag') ?? ''} />;
      break;
    case 'requests':
      content = loc.segments[1] ? <RequestPage id={Number(loc.segments[1])} session={session} /> : <RequestsPage session={session} />;
      break;
    case 'policy':
      content = <PolicyPage session={session} />;
      break;
    case 'audit':
      content = isAdmin ? <AuditPage loc={loc} /> : <NotAllowed session={session} />;
      break;
    case 'tokens':
      content = <TokensPage session={session} />;
      break;
    case 'admin':
      content = isAdmin ? <AdminPage session={session} /> : <NotAllowed session={session} />;
      break;
    default:
      content = (
        <section>
          <h1>Not found</h1>
          <p>The console has no page here. Use the navigation above.</p>
        </section>
      );
  }

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">npm-gatekeeper</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.admin || isAdmin).map((n) => (
              <li key={n.path}>
                <Link to={href(n.path)} aria-current={`/${page}` === n.path ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          Signed in as <strong>{session.username}</strong> ({session.role})
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </>
  );
}

/**
 * Where the sign-in page goes on to: `next` when it is a page of the console (the same check
 * the server makes of the IdP's `next`, core/console-path.ts), else the overview. Never another
 * site, a `javascript:` URL or a path outside the console, and never the sign-in page itself.
 */
function afterSignIn(next: string | null): string {
  const path = consolePathOf(next);
  if (!path || new URL(path, location.origin).pathname.startsWith(href('/signin'))) return href('/');
  return path;
}

function NotAllowed({ session }: { session: SessionView }) {
  return (
    <section>
      <h1>Not allowed</h1>
      <p role="alert" class="error">
        This page needs the admin role; {session.username} is a {session.role}. The server refuses these calls too.
      </p>
    </section>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
