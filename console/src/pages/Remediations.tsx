// The remediation log: every run with its steps, newest first.
import { useState } from 'react';
import { get, may, post, type Me } from '../api.ts';
import { Link } from '../router.tsx';
import { T, when } from '../text.tsx';
import { Button, Card, Empty, ErrorState, Loading, Status, useLive, useLoad } from '../ui.tsx';

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
  undoOf?: string | null;
  steps?: Array<{ step: string; status: string; detail?: string; undoable?: boolean; undoneBy?: string | null }>;
}

export function RemediationsPage({ me }: { me: Me }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useLoad(async () => {
    const r = await get<{ items: Run[] } | Run[]>('/api/remediations');
    return Array.isArray(r) ? r : r.items ?? [];
  }, []);
  useLive(['remediation', 'alerts'], () => list.reload());
  const undo = async (runId: string) => {
    setConfirm(null);
    setBusy(runId);
    setError(null);
    try {
      await post(`/api/remediations/${encodeURIComponent(runId)}/undo`);
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const canUndo = (r: Run) => may(me, 'remediate') && !r.dryRun && (r.steps ?? []).some((s) => s.status === 'succeeded' && s.undoable && !s.undoneBy);
  return (
    <>
      <div className="page-head">
        <h1>Remediation log</h1>
      </div>
      {error ? <ErrorState error={error} /> : null}
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
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
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
                  <td>
                    {r.undoOf ? <span className="muted">undo run</span> : null}
                    {canUndo(r) &&
                      (confirm === (r.runId ?? r.id) ? (
                        <span className="confirm">
                          Revert what this run changed?{' '}
                          <Button kind="danger" onClick={() => undo(String(r.runId ?? r.id))}>
                            Yes, undo
                          </Button>{' '}
                          <Button onClick={() => setConfirm(null)}>Cancel</Button>
                        </span>
                      ) : (
                        <Button busy={busy === (r.runId ?? r.id)} onClick={() => setConfirm(String(r.runId ?? r.id))} title="unblock sign-in, re-enable rules, restore forwarding">
                          Undo
                        </Button>
                      ))}
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
