// A tiny History-API router: paths are internal, built by the console, never from alert content.
import { createContext, useContext, useEffect, useState, type MouseEvent, type ReactNode } from 'react';

const Ctx = createContext<{ path: string; search: string; go: (to: string) => void }>({ path: '/', search: '', go: () => {} });

export function Router({ children }: { children: ReactNode }) {
  const [loc, setLoc] = useState({ path: window.location.pathname, search: window.location.search });
  useEffect(() => {
    const on = () => setLoc({ path: window.location.pathname, search: window.location.search });
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  const go = (to: string) => {
    window.history.pushState(null, '', to);
    const u = new URL(to, window.location.origin);
    setLoc({ path: u.pathname, search: u.search });
    window.scrollTo(0, 0);
  };
  return <Ctx.Provider value={{ ...loc, go }}>{children}</Ctx.Provider>;
}

export function useRoute() {
  return useContext(Ctx);
}

export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string; 'aria-current'?: 'page' | undefined }) {
  const { go } = useRoute();
  const onClick = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    go(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} {...rest}>
      {children}
    </a>
  );
}
