// Settings: channels (send test) and routes, exclusions, trusted IPs, users and roles. The server
// validates with the configuration file's schema and lists every problem.
import { useEffect, useState, type FormEvent } from 'react';
import { BEHAVIOURS, del, get, may, patch, post, put, type Me } from '../api.ts';
import { inert, T, when } from '../text.tsx';
import { Badge, Button, Card, Empty, ErrorState, Field, Loading, useLoad } from '../ui.tsx';

interface Channel {
  name: string;
  type: string;
  [k: string]: unknown;
}
interface Settings {
  channels: Channel[];
  routes: Array<Record<string, unknown>>;
}

function Notify({ admin }: { admin: boolean }) {
  const s = useLoad(() => get<Settings>('/api/settings/notify'), []);
  const [channels, setChannels] = useState('');
  const [routes, setRoutes] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [tests, setTests] = useState<Record<string, string>>({});
  useEffect(() => {
    if (s.data) {
      setChannels(JSON.stringify(s.data.channels, null, 2));
      setRoutes(JSON.stringify(s.data.routes, null, 2));
    }
  }, [s.data]);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    let body: unknown;
    try {
      body = { channels: JSON.parse(channels), routes: JSON.parse(routes) };
    } catch (err) {
      setError(new Error(`not valid JSON: ${(err as Error).message}`));
      return;
    }
    try {
      await put('/api/settings/notify', body);
      setSaved(true);
      s.reload();
    } catch (err) {
      setError(err);
    }
  };
  const test = async (name: string) => {
    setTests((t) => ({ ...t, [name]: 'sending…' }));
    try {
      const r = await post<{ ok: boolean; error?: string }>(`/api/settings/channels/${encodeURIComponent(name)}/test`);
      setTests((t) => ({ ...t, [name]: r.ok ? 'test message sent' : `failed: ${inert(r.error)}` }));
    } catch (err) {
      setTests((t) => ({ ...t, [name]: `failed: ${inert((err as Error).message)}` }));
    }
  };
  if (s.error) return <ErrorState error={s.error} retry={s.reload} />;
  if (!s.data) return <Loading what="channels" />;
  return (
    <Card title="Channels and routing" id="notify-title">
      {s.data.channels.length === 0 ? (
        <Empty>No channels. Add one below (teams, slack, email, webhook or memory).</Empty>
      ) : (
        <ul className="channel-list">
          {s.data.channels.map((c) => (
            <li key={c.name}>
              <strong>
                <T v={c.name} max={64} />
              </strong>{' '}
              <Badge>
                <T v={c.type} max={20} />
              </Badge>{' '}
              {admin && (
                <Button onClick={() => test(c.name)} aria-label={`Send a test message through ${c.name}`}>
                  Send test message
                </Button>
              )}{' '}
              <span className="muted" role="status">
                {tests[c.name] ?? ''}
              </span>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={save}>
        <Field label="Channels (JSON, same keys as notify.channels in the config file; secrets show as [redacted] and are kept)" id="channels-json">
          <textarea id="channels-json" rows={8} value={channels} onChange={(e) => setChannels(e.target.value)} readOnly={!admin} spellCheck={false} />
        </Field>
        <Field label="Routes (JSON, same keys as notify.routes)" id="routes-json">
          <textarea id="routes-json" rows={6} value={routes} onChange={(e) => setRoutes(e.target.value)} readOnly={!admin} spellCheck={false} />
        </Field>
        {error ? <ErrorState error={error} /> : null}
        {saved && (
          <div className="state" role="status">
            Saved.
          </div>
        )}
        {admin && (
          <Button type="submit" kind="primary">
            Save channels and routes
          </Button>
        )}
      </form>
    </Card>
  );
}

interface Tenant {
  tenantId: string;
  name: string;
  trustedIps?: string[];
}

function Exclusions({ admin, tenants }: { admin: boolean; tenants: Tenant[] }) {
  const list = useLoad(() => get<{ items: Array<Record<string, unknown>> }>('/api/exclusions'), []);
  const [form, setForm] = useState({ tenantId: '', behaviour: '', user: '', destination: '', ipRange: '', reason: '' });
  const [error, setError] = useState<unknown>(null);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== ''));
    try {
      await post('/api/exclusions', body);
      setForm({ tenantId: form.tenantId, behaviour: '', user: '', destination: '', ipRange: '', reason: '' });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (id: string) => {
    try {
      await del(`/api/exclusions/${encodeURIComponent(id)}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const names = new Map(tenants.map((t) => [t.tenantId, t.name]));
  return (
    <Card title="Exclusions" id="excl-title">
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="exclusions" />
      ) : list.data.items.length === 0 ? (
        <Empty>No exclusions. Add known-good forwarding destinations, users or IP ranges here.</Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Matches</th>
              <th scope="col">Reason</th>
              <th scope="col">Expires</th>
              {admin && <th scope="col">Remove</th>}
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((x, i) => (
              <tr key={String(x.id ?? i)}>
                <td>
                  <T v={names.get(String(x.tenantId)) ?? x.tenantId ?? 'every tenant'} max={60} />
                </td>
                <td>
                  <T v={['behaviour', 'ruleId', 'user', 'destination', 'ipRange'].filter((k) => x[k]).map((k) => `${k}=${String(x[k])}`).join(', ')} max={200} />
                </td>
                <td>
                  <T v={x.reason} max={200} />
                </td>
                <td>{x.expiresAt ? when(x.expiresAt) : 'never'}</td>
                {admin && (
                  <td>
                    <Button onClick={() => remove(String(x.id))} aria-label={`Remove exclusion ${i + 1}`}>
                      Remove
                    </Button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <form className="inline-form" onSubmit={add} aria-label="Add an exclusion">
          <Field label="Tenant" id="ex-tenant">
            <select id="ex-tenant" value={form.tenantId} onChange={(e) => setForm({ ...form, tenantId: e.target.value })} required>
              <option value="">choose…</option>
              {tenants.map((t) => (
                <option key={t.tenantId} value={t.tenantId}>
                  {t.name.slice(0, 80)}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Behaviour" id="ex-behaviour">
            <select id="ex-behaviour" value={form.behaviour} onChange={(e) => setForm({ ...form, behaviour: e.target.value })}>
              <option value="">any</option>
              {Object.entries(BEHAVIOURS).map(([b, l]) => (
                <option key={b} value={b}>
                  {l}
                </option>
              ))}
            </select>
          </Field>
          <Field label="User" id="ex-user" help="e.g. jane@contoso.com">
            <input id="ex-user" value={form.user} onChange={(e) => setForm({ ...form, user: e.target.value })} aria-describedby="ex-user-help" />
          </Field>
          <Field label="Destination" id="ex-dest" help="address or *@domain">
            <input id="ex-dest" value={form.destination} onChange={(e) => setForm({ ...form, destination: e.target.value })} aria-describedby="ex-dest-help" />
          </Field>
          <Field label="IP range" id="ex-ip" help="address or CIDR">
            <input id="ex-ip" value={form.ipRange} onChange={(e) => setForm({ ...form, ipRange: e.target.value })} aria-describedby="ex-ip-help" />
          </Field>
          <Field label="Reason" id="ex-reason">
            <input id="ex-reason" value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} required />
          </Field>
          <Button type="submit" kind="primary">
            Add exclusion
          </Button>
        </form>
      )}
      {error ? <ErrorState error={error} /> : null}
    </Card>
  );
}

function TrustedIps({ admin, tenants, reload }: { admin: boolean; tenants: Tenant[]; reload: () => void }) {
  const [tenantId, setTenantId] = useState('');
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    const t = tenants.find((x) => x.tenantId === tenantId);
    setText((t?.trustedIps ?? []).join('\n'));
  }, [tenantId, tenants]);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await put(`/api/tenants/${encodeURIComponent(tenantId)}/trusted-ips`, { trustedIps: text.split(/\s+/).filter(Boolean) });
      setSaved(true);
      reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card title="Trusted IP ranges" id="trusted-title">
      <form onSubmit={save}>
        <Field label="Tenant" id="tr-tenant">
          <select id="tr-tenant" value={tenantId} onChange={(e) => setTenantId(e.target.value)}>
            <option value="">choose…</option>
            {tenants.map((t) => (
              <option key={t.tenantId} value={t.tenantId}>
                {t.name.slice(0, 80)}
              </option>
            ))}
          </select>
        </Field>
        {tenantId && (
          <>
            <Field label="Addresses or CIDR ranges, one per line" id="tr-ips" help="Sign-ins and changes from these ranges are not treated as anomalous.">
              <textarea id="tr-ips" rows={5} value={text} onChange={(e) => setText(e.target.value)} readOnly={!admin} aria-describedby="tr-ips-help" />
            </Field>
            {error ? <ErrorState error={error} /> : null}
            {saved && (
              <div className="state" role="status">
                Saved.
              </div>
            )}
            {admin && (
              <Button type="submit" kind="primary">
                Save trusted IPs
              </Button>
            )}
          </>
        )}
      </form>
    </Card>
  );
}

interface UserRow {
  username: string;
  role: string;
  disabled: boolean;
  createdAt: string;
}

function Users({ me }: { me: Me }) {
  const list = useLoad(() => get<{ items: UserRow[]; tokens: Array<{ id: string; username: string; name: string; createdAt: string; lastUsedAt: string | null }> }>('/api/users'), []);
  const [form, setForm] = useState({ username: '', password: '', role: 'analyst' });
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<string | null>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card title="Users and roles" id="users-title">
      <p className="muted">admin — everything; analyst — triage and remediate; viewer — read only.</p>
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="users" />
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((u) => (
              <tr key={u.username}>
                <td>
                  <T v={u.username} max={64} />
                </td>
                <td>
                  <label className="sr-only" htmlFor={`role-${u.username}`}>
                    Role of {u.username}
                  </label>
                  <select id={`role-${u.username}`} value={u.role} disabled={u.username === me.username} onChange={(e) => run(() => patch(`/api/users/${encodeURIComponent(u.username)}`, { role: e.target.value }))}>
                    <option value="admin">admin</option>
                    <option value="analyst">analyst</option>
                    <option value="viewer">viewer</option>
                  </select>
                </td>
                <td>{u.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="ok">active</Badge>}</td>
                <td>
                  {u.username !== me.username && (
                    <Button onClick={() => run(() => patch(`/api/users/${encodeURIComponent(u.username)}`, { disabled: !u.disabled }))}>{u.disabled ? 'Enable' : 'Disable'}</Button>
                  )}{' '}
                  <Button
                    onClick={() =>
                      run(async () => {
                        const r = await post<{ token: string }>(`/api/users/${encodeURIComponent(u.username)}/tokens`, { name: 'console' });
                        setToken(r.token);
                      })
                    }
                  >
                    New API token
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {token && (
        <div className="secret-once" role="status">
          API token (shown once; send as <code>Authorization: Bearer …</code>): <code>{token}</code>
        </div>
      )}
      <form
        className="inline-form"
        aria-label="Add a user"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await post('/api/users', form);
            setForm({ username: '', password: '', role: 'analyst' });
          });
        }}
      >
        <Field label="User name" id="nu-name">
          <input id="nu-name" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} required autoComplete="off" />
        </Field>
        <Field label="Password (12+ characters)" id="nu-pass">
          <input id="nu-pass" type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} required minLength={12} autoComplete="new-password" />
        </Field>
        <Field label="Role" id="nu-role">
          <select id="nu-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            <option value="admin">admin</option>
            <option value="analyst">analyst</option>
            <option value="viewer">viewer</option>
          </select>
        </Field>
        <Button type="submit" kind="primary">
          Add user
        </Button>
      </form>
      {error ? <ErrorState error={error} /> : null}
    </Card>
  );
}

export function SettingsPage({ me }: { me: Me }) {
  const admin = may(me, 'admin');
  const tenants = useLoad(() => get<{ items: Tenant[] }>('/api/tenants'), []);
  return (
    <>
      <div className="page-head">
        <h1>Settings</h1>
        {!admin && <span className="muted">Read only: only an admin can change settings.</span>}
      </div>
      <Notify admin={admin} />
      <Exclusions admin={admin} tenants={tenants.data?.items ?? []} />
      <TrustedIps admin={admin} tenants={tenants.data?.items ?? []} reload={tenants.reload} />
      {admin && <Users me={me} />}
    </>
  );
}
