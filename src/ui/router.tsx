import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Every page has a stable URL under BASE: links can be shared and reloaded. */
export const BASE = '/-/gatekeeper/ui';

export function href(path: string): string {
  return `${BASE}${path}`;
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  dispatchEvent(new PopStateEvent('popstate'));
}

export interface Location {
  /** The path below BASE, decoded segment by segment, e.g. ['packages', '@scope/name']. */
  segments: string[];
  query: URLSearchParams;
  full: string;
}

function current(): Location {
  const raw = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  const segments = raw
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, query: new URLSearchParams(location.search), full: location.pathname + location.search };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const on = () => setLoc(current());
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return loc;
}

/** A link that changes the page without reloading; modified clicks (new tab) behave as usual. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  return (
    <a
      href={props.to}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}
