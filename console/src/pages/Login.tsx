import { useState, type FormEvent } from 'react';
import { ApiError, post, type Me } from '../api.ts';
import { Button, Field } from '../ui.tsx';

export function LoginPage({ onLogin }: { onLogin: (me: Me, csrf: string) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ csrfToken: string; user: Me }>('/api/login', { username, password });
      onLogin(r.user, r.csrfToken);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'cannot reach the server');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">tenantwatch</h1>
        <p className="muted">Sign in to the console.</p>
        <Field label="User name" id="username">
          <input id="username" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </Field>
        <Field label="Password" id="password">
          <input id="password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </Field>
        {error && (
          <div className="state state-error" role="alert">
            {error}
          </div>
        )}
        <Button type="submit" kind="primary" busy={busy}>
          Sign in
        </Button>
      </form>
    </main>
  );
}
