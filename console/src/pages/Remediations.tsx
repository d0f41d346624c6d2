// The remediation log: every run with its steps, newest first.
import { get } from '../api.ts';
import { Link } from '../router.tsx';
import { T, when } from '../text.tsx';
import { Card, Empty, ErrorState, Loading, Status, useLive, useLoad } from '../ui.tsx';

interface Run {
  runId?: string;
  id?: string;
  alertId?: string;
  tenantId?: string;
  userId?: string;
  actor?: string;
  source?: string;
  status: string;
  dryRun?: boolean;
  startedAt?: string;
  steps?: Array<{ step: string; status: string; detail?: string }>;
}

export function RemediationsPage() {
  const list = useLoad(async () => {
    const r = await get<{ items: Run[] } | Run[]>('/api/remediations');
    return Array.isArray(r) ? r : r.items ?? [];
  }, []);
  useLive(['remediation', 'alerts'], () => list.reload());
  return (
    <>
      <div className="page-head">
        <h1>Remediation log</h1>
      </div>
      <Card>
        {list.error ? (
          <ErrorState error={list.error} retry={list.reload} />
        ) : !list.data ? (
          <Loading what="the remediation log" />
        ) : list.data.length === 0 ? (
          <Empty>No remediation has run yet. Runs started from an alert or a signed link appear here.</Empty>
        ) : (
          <table className="table" data-testid="remediations">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">User</th>
                <th scope="col">Alert</th>
                <th scope="col">By</th>
                <th scope="col">Status</th>
                <th scope="col">Steps</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((r, i) => (
                <tr key={r.runId ?? r.id ?? i}>
                  <td>{when(r.startedAt)}</td>
                  <td>
                    <T v={r.userId} max={80} />
                  </td>
                  <td>{r.alertId ? <Link to={`/alerts/${encodeURIComponent(r.alertId)}`}>open alert</Link> : ''}</td>
                  <td>
                    <T v={r.actor} max={60} /> <span className="muted">({r.source ?? '?'})</span>
                  </td>
                  <td>
                    <Status value={r.dryRun ? 'dry-run' : r.status} />
                  </td>
                  <td>
                    <ul className="steps-inline">
                      {(r.steps ?? []).map((s, j) => (
                        <li key={j}>
                          <Status value={s.status} /> <T v={s.step} max={40} />
                          {s.detail ? (
                            <span className="muted">
                              {' '}
                              — <T v={s.detail} max={160} />
                            </span>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
