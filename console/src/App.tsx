// Shell: session check, login, navigation, pages.
import { useEffect, useState } from 'react';
import { get, post, setCsrfToken, whenUnauthenticated, type Me } from './api.ts';
import { Link, Router, useRoute } from './router.tsx';
import { Loading } from './ui.tsx';
import { LoginPage } from './pages/Login.tsx';
import { AlertsPage } from './pages/Alerts.tsx';
import { AlertDetailPage } from './pages/AlertDetail.tsx';
import { TenantsPage } from './pages/Tenants.tsx';
import { RemediationsPage } from './pages/Remediations.tsx';
import { SettingsPage } from './pages/Settings.tsx';
import { NotificationsPage } from './pages/Notifications.tsx';

const NAV = [
  ['/alerts', 'Alerts'],
  ['/tenants', 'Tenants'],
  ['/remediations', 'Remediation log'],
  ['/notifications', 'Notifications'],
  ['/settings', 'Settings'],
] as const;

function Shell({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const { path } = useRoute();
  let page;
  const m = /^\/alerts\/([^/]+)$/.exec(path);
  if (m) page = <AlertDetailPage id={decodeURIComponent(m[1])} me={me} />;
  else if (path.startsWith('/tenants')) page = <TenantsPage me={me} />;
  else if (path.startsWith('/remediations')) page = <RemediationsPage me={me} />;
  else if (path.startsWith('/settings')) page = <SettingsPage me={me} />;
  else if (path.startsWith('/notifications')) page = <NotificationsPage />;
  else page = <AlertsPage />;
  const current = NAV.find(([p]) => path.startsWith(p))?.[0] ?? '/alerts';
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">tenantwatch</span>
        <nav aria-label="Main">
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={current === to ? 'nav active' : 'nav'} aria-current={current === to ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="me">
          <span data-testid="me">{me.username}</span> <span className="role">({me.role})</span>
          <button type="button" className="link-button" onClick={onLogout}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  useEffect(() => {
    whenUnauthenticated(() => setMe(null));
    get<{ user: Me; csrfToken: string | null }>('/api/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setMe(s.user);
      },
      () => setMe(null),
    );
  }, []);
  if (me === undefined) return <Loading what="the console" />;
  if (me === null)
    return (
      <LoginPage
        onLogin={(u, csrf) => {
          setCsrfToken(csrf);
          setMe(u);
          if (window.location.pathname === '/' || window.location.pathname === '/login') window.history.replaceState(null, '', '/alerts');
        }}
      />
    );
  return (
    <Router>
      <Shell
        me={me}
        onLogout={() => {
          void post('/api/logout').finally(() => {
            setCsrfToken(null);
            setMe(null);
          });
        }}
      />
    </Router>
  );
}
