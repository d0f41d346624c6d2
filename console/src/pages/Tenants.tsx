// Tenants: health checks with the fix for each; onboard, enable the audit log, discover GDAP customers.
import { useState } from 'react';
import { get, may, post, type Me } from '../api.ts';
import { inert, T, when } from '../text.tsx';
import { Badge, Button, Card, Empty, ErrorState, Loading, useLive, useLoad } from '../ui.tsx';

interface Check {
  ok: boolean;
  reason?: string;
  fix?: string;
}
interface Tenant {
  tenantId: string;
  name: string;
  enabled?: boolean;
  healthy: boolean;
  checks: Record<string, Check>;
  checkedAt?: string | null;
  defaultDomain?: string | null;
}

const CHECK_LABELS: Record<string, string> = {
  token: 'App consent / token',
  consent: 'App consent',
  gdap: 'GDAP relationship',
  auditLog: 'Unified audit log',
  subscriptions: 'Activity API subscriptions',
  lag: 'Ingestion lag',
  errors: 'Recent errors',
  directory: 'Directory (verified domains)',
  acceptedDomains: 'Accepted domains',
  recipients: 'Recipients (contacts, shared mailboxes)',
};

interface Cluster {
  scheduler: string;
  workersAlive: number;
  jobs: { queued: number; running: number; retrying: number; failed: number; dead: number; completed: number };
  notifications: { pending: number; sending: number; sent: number; dead: number; oldestPendingAt: string | null };
}

/** Workers alive, poll jobs and the notification queue (GET /api/cluster). */
function ServicePanel() {
  const c = useLoad(() => get<Cluster>('/api/cluster'), []);
  useLive(['tenants', 'alerts'], () => c.reload());
  if (c.error) return <ErrorState error={c.error} retry={c.reload} />;
  if (!c.data) return <Loading what="service status" />;
  const { jobs, notifications: n } = c.data;
  return (
    <Card title="Service">
      <dl className="facts" data-testid="cluster">
        <dt>Scheduler</dt>
        <dd>
          <T v={c.data.scheduler === 'none' ? 'in-process poll loop' : c.data.scheduler} max={40} /> · {c.data.workersAlive} worker process(es) reporting
        </dd>
        <dt>Poll jobs</dt>
        <dd>
          {jobs.queued} queued · {jobs.running} running · {jobs.retrying} retrying · {jobs.failed} failed · {jobs.dead} dead-lettered
        </dd>
        <dt>Notifications</dt>
        <dd>
          {n.pending} pending · {n.sending} sending · {n.sent} sent · {n.dead ? <Badge tone="bad">{n.dead} dead-lettered</Badge> : '0 dead-lettered'}
          {n.oldestPendingAt ? ` · oldest pending since ${when(n.oldestPendingAt)}` : ''}
        </dd>
      </dl>
    </Card>
  );
}

export function TenantsPage({ me }: { me: Me }) {
  const list = useLoad(() => get<{ items: Tenant[] }>('/api/tenants'), []);
  useLive(['tenants'], () => list.reload());
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState<string | null>(null);
  const admin = may(me, 'admin');
  const act = async (key: string, url: string) => {
    setBusy(key);
    setError(null);
    setMessage(null);
    try {
      const r = await post<Record<string, unknown>>(url);
      setMessage(inert(JSON.stringify(r)).slice(0, 300));
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <div className="page-head">
        <h1>Tenants</h1>
        {admin && (
          <Button busy={busy === 'discover'} onClick={() => act('discover', '/api/tenants/discover')}>
            Discover GDAP customers
          </Button>
        )}
      </div>
      <ServicePanel />
      {error ? <ErrorState error={error} /> : null}
      {message && (
        <div className="state" role="status">
          Done: {message}
        </div>
      )}
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="tenants" />
      ) : list.data.items.length === 0 ? (
        <Empty>No tenants yet. {admin ? 'Discover your GDAP customers, or add tenants with `tenantwatch tenants add`.' : 'An admin can add them.'}</Empty>
      ) : (
        <div className="tenants" data-testid="tenants">
          {list.data.items.map((t) => {
            const checks = Object.entries(t.checks ?? {});
            return (
              <Card
                key={t.tenantId}
                id={`t-${t.tenantId}`}
                title={
                  <>
                    <T v={t.name} max={80} /> {t.healthy ? <Badge tone="ok">healthy</Badge> : checks.length ? <Badge tone="bad">needs attention</Badge> : <Badge>not checked yet</Badge>}
                    {t.enabled === false && <Badge>disabled</Badge>}
                  </>
                }
                actions={
                  admin && (
                    <>
                      <Button busy={busy === `check-${t.tenantId}`} onClick={() => act(`check-${t.tenantId}`, `/api/tenants/${encodeURIComponent(t.tenantId)}/check`)}>
                        Check now
                      </Button>
                      <Button busy={busy === `onboard-${t.tenantId}`} onClick={() => act(`onboard-${t.tenantId}`, `/api/tenants/${encodeURIComponent(t.tenantId)}/onboard`)}>
                        Onboard
                      </Button>
                      {t.checks?.auditLog && !t.checks.auditLog.ok && t.checks.token?.ok !== false && (
                        <Button kind="primary" busy={busy === `audit-${t.tenantId}`} onClick={() => act(`audit-${t.tenantId}`, `/api/tenants/${encodeURIComponent(t.tenantId)}/enable-audit-log`)}>
                          Enable audit log
                        </Button>
                      )}
                    </>
                  )
                }
              >
                <p className="muted">
                  <T v={t.tenantId} max={40} /> {t.defaultDomain ? <T v={t.defaultDomain} max={80} /> : null} {t.checkedAt ? `· checked ${when(t.checkedAt)}` : ''}
                </p>
                {checks.length === 0 ? (
                  <Empty>No health checks recorded yet.</Empty>
                ) : (
                  <table className="table checks">
                    <thead>
                      <tr>
                        <th scope="col">Check</th>
                        <th scope="col">Result</th>
                        <th scope="col">Fix</th>
                      </tr>
                    </thead>
                    <tbody>
                      {checks.map(([name, c]) => (
                        <tr key={name}>
                          <td>{CHECK_LABELS[name] ?? <T v={name} max={40} />}</td>
                          <td>
                            {c?.ok ? <Badge tone="ok">ok</Badge> : <Badge tone="bad">failed</Badge>} <T v={c?.reason} max={300} />
                          </td>
                          <td>{c?.ok ? '' : <T v={c?.fix} max={400} />}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </Card>
            );
          })}
        </div>
      )}
    </>
  );
}
