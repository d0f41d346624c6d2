// Alerts: the live list with filters. New alerts arrive over server-sent events without a reload.
import { useRef, useState } from 'react';
import { BEHAVIOURS, get, qs, SEVERITIES, STATUSES, type AlertItem } from '../api.ts';
import { Link, useRoute } from '../router.tsx';
import { ago, T, when } from '../text.tsx';
import { Card, Empty, ErrorState, Field, Loading, Severity, Status, useLive, useLoad } from '../ui.tsx';

interface TenantLite {
  tenantId: string;
  name: string;
}

export function AlertsPage() {
  const { search, go } = useRoute();
  const params = new URLSearchParams(search);
  const filters = {
    status: params.get('status') ?? 'open',
    tenant: params.get('tenant') ?? '',
    severity: params.get('severity') ?? '',
    behaviour: params.get('behaviour') ?? '',
  };
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const seen = useRef<Set<string> | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const tenants = useLoad(() => get<{ items: TenantLite[] }>('/api/tenants').catch(() => ({ items: [] as TenantLite[] })), []);
  const list = useLoad(async () => {
    const r = await get<{ items: AlertItem[]; next: string | null }>(
      `/api/alerts${qs({ status: filters.status, tenant: filters.tenant, severity: filters.severity, behaviour: filters.behaviour, cursor })}`,
    );
    const ids = new Set(r.items.map((a) => a.id));
    if (seen.current) setFresh(new Set([...ids].filter((id) => !seen.current!.has(id))));
    seen.current = new Set([...(seen.current ?? []), ...ids]);
    return r;
  }, [search, cursor]);
  const connected = useLive(['alerts'], () => list.reload());
  const names = new Map((tenants.data?.items ?? []).map((t) => [t.tenantId, t.name]));
  const setFilter = (k: string, v: string) => {
    const p = new URLSearchParams(search);
    if (v) p.set(k, v);
    else p.delete(k);
    setCursor(undefined);
    go(`/alerts?${p.toString()}`);
  };

  return (
    <>
      <div className="page-head">
        <h1>Alerts</h1>
        <span className={`live ${connected ? 'on' : 'off'}`} role="status" aria-live="polite" data-testid="live">
          {connected ? 'live' : 'reconnecting…'}
        </span>
      </div>
      <form className="filters" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
        <Field label="Status" id="f-status">
          <select id="f-status" value={filters.status} onChange={(e) => setFilter('status', e.target.value)}>
            {[...STATUSES, 'all'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Tenant" id="f-tenant">
          <select id="f-tenant" value={filters.tenant} onChange={(e) => setFilter('tenant', e.target.value)}>
            <option value="">all tenants</option>
            {(tenants.data?.items ?? []).map((t) => (
              <option key={t.tenantId} value={t.tenantId}>
                {t.name.slice(0, 80)}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Minimum severity" id="f-severity">
          <select id="f-severity" value={filters.severity} onChange={(e) => setFilter('severity', e.target.value)}>
            <option value="">any severity</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Behaviour" id="f-behaviour">
          <select id="f-behaviour" value={filters.behaviour} onChange={(e) => setFilter('behaviour', e.target.value)}>
            <option value="">any behaviour</option>
            {Object.entries(BEHAVIOURS).map(([b, label]) => (
              <option key={b} value={b}>
                {label}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <Card>
        {list.error ? (
          <ErrorState error={list.error} retry={list.reload} />
        ) : !list.data ? (
          <Loading what="alerts" />
        ) : list.data.items.length === 0 ? (
          <Empty>
            No {filters.status === 'all' ? '' : filters.status} alerts{filters.tenant || filters.severity || filters.behaviour ? ' match these filters' : ''}. New alerts appear here as they are detected.
          </Empty>
        ) : (
          <table className="table alerts-table" data-testid="alerts">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Alert</th>
                <th scope="col">Tenant</th>
                <th scope="col">User</th>
                <th scope="col">Records</th>
                <th scope="col">Last seen</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((a) => (
                <tr key={a.id} className={fresh.has(a.id) ? 'fresh' : undefined} data-alert-id={a.id}>
                  <td>
                    <Severity value={a.severity} />
                  </td>
                  <td className="wide">
                    <Link to={`/alerts/${encodeURIComponent(a.id)}`} className="row-link">
                      <span className="behaviour">{BEHAVIOURS[a.behaviour] ?? <T v={a.behaviour} max={60} />}</span>
                    </Link>
                    <div className="summary">
                      <T v={a.summary} max={200} />
                    </div>
                  </td>
                  <td>
                    <T v={a.tenantName ?? names.get(a.tenantId) ?? a.tenantId} max={60} />
                  </td>
                  <td>
                    <T v={a.userId} max={80} />
                  </td>
                  <td className="num">{Number(a.count) || 0}</td>
                  <td title={when(a.lastSeen)}>{ago(a.lastSeen)}</td>
                  <td>
                    <Status value={a.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {list.data?.next && (
          <div className="pager">
            <button type="button" className="btn btn-plain" onClick={() => setCursor(list.data!.next!)}>
              Older alerts
            </button>
          </div>
        )}
      </Card>
    </>
  );
}
