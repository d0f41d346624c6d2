// One alert: summary sentence, where from, evidence timeline (raw JSON on demand), notifications,
// remediation runs, triage, and Secure and Remediate with step selection and live step results.
import { useState } from 'react';
import { ApiError, BEHAVIOURS, get, may, post, REMEDIATION_STEPS, type AlertItem, type Me } from '../api.ts';
import { Link } from '../router.tsx';
import { RawJson, T, when } from '../text.tsx';
import { Badge, Button, Card, Empty, ErrorState, Loading, Severity, Status, useLive, useLoad } from '../ui.tsx';

interface Enrichment {
  ip?: string;
  country?: string;
  countryName?: string;
  city?: string;
  asn?: number;
  asOrg?: string;
  hosting?: boolean;
  newIp?: boolean;
  newCountry?: boolean;
  newAsn?: boolean;
}
interface StepResult {
  step: string;
  status: string;
  detail?: string;
  [k: string]: unknown;
}
interface Run {
  id?: string;
  runId?: string;
  status: string;
  actor?: string;
  source?: string;
  startedAt?: string;
  steps: StepResult[];
}
interface AlertDetail extends AlertItem {
  tenantName?: string;
  target?: string;
  clientIp?: string;
  suppressedReason?: string | null;
  enrichment?: Enrichment | null;
  evidence?: Array<{ recordId: string; occurredAt: string; severity?: string; clientIp?: string | null; facts?: unknown; raw?: unknown }>;
  notifications?: Array<{ id: string; channel: string; event?: string; status: string; attempts?: number; sentAt?: string | null; lastError?: string | null; createdAt?: string }>;
  remediationRuns?: Run[];
  activity?: Array<{ at: string; actor: string; action: string; detail?: unknown }>;
}

function Where({ e, ip }: { e: Enrichment | null | undefined; ip?: string }) {
  if (!e && !ip) return <Empty>The records carry no client address.</Empty>;
  const flag = (v: boolean | undefined, yes: string) => (v === true ? <Badge tone="bad">{yes}</Badge> : v === false ? <Badge tone="ok">seen before</Badge> : <Badge>no baseline yet</Badge>);
  return (
    <dl className="facts">
      <dt>IP address</dt>
      <dd>
        <T v={e?.ip ?? ip} max={64} /> {e && flag(e.newIp, 'new IP for this user')}
      </dd>
      <dt>Country</dt>
      <dd>
        {e?.country || e?.countryName ? <T v={[e?.city, e?.countryName ?? e?.country].filter(Boolean).join(', ')} max={80} /> : 'unknown'}{' '}
        {e && (e.country || e.countryName) && flag(e.newCountry, 'new country for this user')}
      </dd>
      <dt>Network</dt>
      <dd>
        {e?.asn ? <T v={`AS${e.asn}${e.asOrg ? ` ${e.asOrg}` : ''}`} max={100} /> : 'unknown'} {e?.asn ? flag(e.newAsn, 'new network for this user') : null}
        {e?.hosting ? <Badge tone="warn">hosting / VPN</Badge> : null}
      </dd>
    </dl>
  );
}

interface Plan {
  defaultSteps: string[];
  catalogue: Array<{ id: string; title: string; description: string }>;
  passwordMode?: string;
}

function Remediate({ alert, me, onDone }: { alert: AlertDetail; me: Me; onDone: () => void }) {
  const allowed = may(me, 'remediate');
  const plan = useLoad(
    () =>
      get<Plan>(`/api/alerts/${encodeURIComponent(alert.id)}/remediation-plan`).catch(() => ({
        defaultSteps: REMEDIATION_STEPS.map((s) => s.id),
        catalogue: REMEDIATION_STEPS.map((s) => ({ id: s.id, title: s.label, description: s.help })),
      })),
    [alert.id],
  );
  const [picked, setPicked] = useState<string[] | null>(null);
  const catalogue = plan.data?.catalogue ?? [];
  const order = (ids: string[]) => catalogue.map((c) => c.id).filter((id) => ids.includes(id));
  const chosen = picked ?? plan.data?.defaultSteps ?? [];
  const [confirming, setConfirming] = useState(false);
  const [running, setRunning] = useState<string[] | null>(null);
  const [result, setResult] = useState<{ runId: string; status?: string; steps: StepResult[]; newPassword?: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const title = (id: string) => catalogue.find((c) => c.id === id)?.title ?? REMEDIATION_STEPS.find((x) => x.id === id)?.label;
  const [progress, setProgress] = useState<StepResult[]>([]);
  const run = async () => {
    setConfirming(false);
    setError(null);
    setResult(null);
    setProgress([]);
    const steps = order(chosen);
    setRunning(steps);
    // Live step results: the playbook records each step as it finishes; poll the run while it goes.
    const started = new Date(Date.now() - 5000).toISOString();
    const timer = window.setInterval(() => {
      get<{ items: Array<{ id: string; status: string; startedAt: string; steps: StepResult[] }> }>(`/api/remediations?alertId=${encodeURIComponent(alert.id)}&limit=1`).then(
        (r) => {
          const latest = r.items[0];
          if (latest && latest.status === 'running' && latest.startedAt >= started) setProgress(latest.steps ?? []);
        },
        () => {},
      );
    }, 400);
    try {
      const r = await post<{ runId: string; status: string; steps: StepResult[]; newPassword?: string }>(`/api/alerts/${encodeURIComponent(alert.id)}/remediate`, { steps });
      setResult(r);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      window.clearInterval(timer);
      setRunning(null);
    }
  };
  const shown: StepResult[] =
    result?.steps ?? (running ?? []).map((s) => progress.find((p) => p.step === s) ?? { step: s, status: 'running', detail: 'in progress…' });
  return (
    <Card title="Secure and Remediate" id="remediate-title">
      {!allowed && (
        <p className="muted" data-testid="remediate-denied">
          Your role ({me.role}) may read alerts but not remediate. Ask an analyst or admin.
        </p>
      )}
      {plan.data ? (
        <fieldset disabled={!allowed || running !== null} className="steps">
          <legend>
            Steps to run against <T v={alert.userId} max={80} />
          </legend>
          {catalogue.map((s) => (
            <label key={s.id} className="check">
              <input
                type="checkbox"
                name="step"
                value={s.id}
                checked={chosen.includes(s.id)}
                onChange={(e) => setPicked(e.target.checked ? order([...chosen, s.id]) : chosen.filter((x) => x !== s.id))}
              />
              <span>
                <strong>{s.title}</strong> <span className="muted">{s.description}</span>
              </span>
            </label>
          ))}
        </fieldset>
      ) : (
        <Loading what="the remediation plan" />
      )}
      {confirming ? (
        <div className="confirm" role="alertdialog" aria-labelledby="confirm-title">
          <p id="confirm-title">
            Run {chosen.length} step(s) against <T v={alert.userId} max={80} /> now?
          </p>
          <Button kind="danger" onClick={run}>
            Yes, secure the account
          </Button>{' '}
          <Button onClick={() => setConfirming(false)}>Cancel</Button>
        </div>
      ) : (
        <Button kind="danger" disabled={!allowed || chosen.length === 0} busy={running !== null} onClick={() => setConfirming(true)} title={allowed ? undefined : 'your role may not remediate'}>
          Secure and Remediate
        </Button>
      )}
      {error ? <ErrorState error={error} /> : null}
      {shown.length > 0 && (
        <ol className="step-results" aria-live="polite" data-testid="step-results">
          {shown.map((s, i) => {
            const err = s.error as { message?: string; code?: string; fix?: string } | undefined;
            const items = Array.isArray(s.items) ? (s.items as Array<{ name?: string; status?: string; why?: string }>) : [];
            return (
              <li key={`${s.step}-${i}`} data-step={s.step} data-status={s.status}>
                <Status value={s.status} /> <strong>{title(s.step) ?? <T v={s.step} max={60} />}</strong>{' '}
                <span className="muted">
                  <T v={s.detail} max={400} />
                </span>
                {err ? (
                  <div className="state-error">
                    <T v={`${err.code ? `${err.code}: ` : ''}${err.message ?? ''}`} max={300} />
                    {err.fix ? (
                      <div className="hint">
                        <T v={err.fix} max={300} />
                      </div>
                    ) : null}
                  </div>
                ) : null}
                {items.length > 0 && (
                  <ul>
                    {items.slice(0, 50).map((it, j) => (
                      <li key={j}>
                        <Status value={String(it.status)} /> <T v={it.name} max={120} /> {it.why ? <span className="muted">(<T v={it.why} max={120} />)</span> : null}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {result?.newPassword ? (
        <div className="secret-once" role="status">
          New password for <T v={alert.userId} max={80} /> (shown once, give it to the user out of band): <code>{result.newPassword}</code>
        </div>
      ) : null}
      {result && (
        <p className="muted">
          Run <T v={result.runId} max={60} /> ({result.status}) is recorded in the <Link to="/remediations">remediation log</Link>.
        </p>
      )}
    </Card>
  );
}

function Triage({ alert, me, onDone }: { alert: AlertDetail; me: Me; onDone: () => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [minutes, setMinutes] = useState(60);
  const allowed = may(me, 'triage');
  const act = async (action: string, body: unknown = {}) => {
    setBusy(action);
    setError(null);
    try {
      await post(`/api/alerts/${encodeURIComponent(alert.id)}/${action}`, body);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  if (!allowed) return <p className="muted">Your role ({me.role}) may not change alerts.</p>;
  return (
    <div className="triage">
      {alert.status !== 'acknowledged' && alert.status !== 'resolved' && (
        <Button busy={busy === 'ack'} onClick={() => act('ack')}>
          Acknowledge
        </Button>
      )}
      {alert.status !== 'resolved' && (
        <Button busy={busy === 'resolve'} onClick={() => act('resolve')}>
          Resolve
        </Button>
      )}
      {alert.status !== 'resolved' && (
        <span className="inline-field">
          <label htmlFor="snooze-minutes">Snooze for</label>
          <select id="snooze-minutes" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            <option value={60}>1 hour</option>
            <option value={240}>4 hours</option>
            <option value={1440}>1 day</option>
            <option value={10080}>7 days</option>
          </select>
          <Button busy={busy === 'snooze'} onClick={() => act('snooze', { minutes })}>
            Snooze
          </Button>
        </span>
      )}
      {alert.status !== 'open' && (
        <Button busy={busy === 'reopen'} onClick={() => act('reopen')}>
          Reopen
        </Button>
      )}
      {error ? <ErrorState error={error} /> : null}
    </div>
  );
}

function Evidence({ items }: { items: NonNullable<AlertDetail['evidence']> }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (items.length === 0) return <Empty>No evidence records are kept for this alert.</Empty>;
  return (
    <ol className="timeline">
      {items.map((e, i) => {
        const key = `${e.recordId}-${i}`;
        const isOpen = open.has(key);
        return (
          <li key={key}>
            <div className="timeline-head">
              <time dateTime={typeof e.occurredAt === 'string' ? e.occurredAt : undefined}>{when(e.occurredAt)}</time> {e.severity && <Severity value={e.severity} />}{' '}
              <span className="muted">
                record <T v={e.recordId} max={60} />
                {e.clientIp ? (
                  <>
                    {' '}
                    from <T v={e.clientIp} max={64} />
                  </>
                ) : null}
              </span>
              <button type="button" className="link-button" aria-expanded={isOpen} onClick={() => setOpen((s) => { const n = new Set(s); if (n.has(key)) n.delete(key); else n.add(key); return n; })}>
                {isOpen ? 'hide raw JSON' : 'raw JSON'}
              </button>
            </div>
            {isOpen && <RawJson value={e.raw ?? e.facts ?? e} />}
          </li>
        );
      })}
    </ol>
  );
}

export function AlertDetailPage({ id, me }: { id: string; me: Me }) {
  const a = useLoad(() => get<AlertDetail>(`/api/alerts/${encodeURIComponent(id)}`), [id]);
  useLive(['alerts', 'remediation'], () => a.reload());
  if (a.error && !a.data) return <ErrorState error={a.error} retry={a.error instanceof ApiError && a.error.status === 404 ? undefined : a.reload} />;
  if (!a.data) return <Loading what="the alert" />;
  const al = a.data;
  return (
    <>
      <p className="crumbs">
        <Link to="/alerts">← Alerts</Link>
      </p>
      <div className="page-head">
        <h1 data-testid="alert-title">{BEHAVIOURS[al.behaviour] ?? <T v={al.behaviour} max={80} />}</h1>
        <Severity value={al.severity} /> <Status value={al.status} />
      </div>
      <p className="summary-sentence" data-testid="alert-summary">
        <T v={al.summary} max={600} />
      </p>
      {al.suppressedReason ? (
        <p className="muted">
          Suppressed: <T v={al.suppressedReason} max={200} />
        </p>
      ) : null}
      <div className="grid">
        <Card title="What happened" id="what-title">
          <dl className="facts">
            <dt>Tenant</dt>
            <dd>
              <T v={al.tenantName ? `${al.tenantName} (${al.tenantId})` : al.tenantId} max={120} />
            </dd>
            <dt>User</dt>
            <dd>
              <T v={al.userId} max={120} />
            </dd>
            <dt>Rule</dt>
            <dd>
              <T v={al.ruleId} max={100} />
            </dd>
            {al.target ? (
              <>
                <dt>Target</dt>
                <dd>
                  <T v={al.target} max={200} />
                </dd>
              </>
            ) : null}
            <dt>Records</dt>
            <dd>{Number(al.count) || 0}</dd>
            <dt>First seen</dt>
            <dd>{when(al.firstSeen)}</dd>
            <dt>Last seen</dt>
            <dd>{when(al.lastSeen)}</dd>
          </dl>
          <Triage alert={al} me={me} onDone={a.reload} />
        </Card>
        <Card title="Where from" id="where-title">
          <Where e={al.enrichment} ip={al.clientIp} />
        </Card>
      </div>
      <Remediate alert={al} me={me} onDone={a.reload} />
      <Card title="Evidence" id="evidence-title">
        <Evidence items={al.evidence ?? []} />
      </Card>
      <div className="grid">
        <Card title="Notifications sent" id="notif-title">
          {(al.notifications ?? []).length === 0 ? (
            <Empty>No notifications for this alert (no route matched, or it was suppressed).</Empty>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Sent</th>
                </tr>
              </thead>
              <tbody>
                {al.notifications!.map((n) => (
                  <tr key={n.id}>
                    <td>
                      <T v={n.channel} max={60} />
                    </td>
                    <td>
                      <T v={n.event} max={20} />
                    </td>
                    <td>
                      <Status value={n.status} />
                      {n.lastError ? (
                        <div className="muted">
                          <T v={n.lastError} max={200} />
                        </div>
                      ) : null}
                    </td>
                    <td className="num">{n.attempts ?? 0}</td>
                    <td>{when(n.sentAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Remediation runs" id="runs-title">
          {(al.remediationRuns ?? []).length === 0 ? (
            <Empty>Nothing has been run for this alert yet.</Empty>
          ) : (
            <ul className="runs">
              {al.remediationRuns!.map((r, k) => (
                <li key={r.id ?? r.runId ?? k}>
                  <Status value={r.status} /> {when(r.startedAt)} by <T v={r.actor} max={60} /> ({r.source})
                  <ul>
                    {(r.steps ?? []).map((s, i) => (
                      <li key={i}>
                        <Status value={s.status} /> <T v={s.step} max={40} />{' '}
                        <span className="muted">
                          <T v={s.detail} max={200} />
                        </span>
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      {(al.activity ?? []).length > 0 && (
        <Card title="Activity" id="activity-title">
          <ul className="activity">
            {al.activity!.map((x, i) => (
              <li key={i}>
                {when(x.at)} — <T v={x.actor} max={60} />: <T v={x.action} max={60} />
              </li>
            ))}
          </ul>
        </Card>
      )}
    </>
  );
}
