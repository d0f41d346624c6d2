// The console's small design system: buttons, badges, cards, states, fields. Styles in styles.css.
import { useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api.ts';
import { inert } from './text.tsx';

export function Button(props: { children: ReactNode; onClick?: () => void; kind?: 'primary' | 'danger' | 'plain'; disabled?: boolean; type?: 'button' | 'submit'; title?: string; busy?: boolean; 'aria-label'?: string }) {
  return (
    <button
      type={props.type ?? 'button'}
      className={`btn btn-${props.kind ?? 'plain'}`}
      onClick={props.onClick}
      disabled={props.disabled || props.busy}
      title={props.title}
      aria-label={props['aria-label']}
      aria-busy={props.busy || undefined}
    >
      {props.busy ? <span className="spinner" aria-hidden="true" /> : null}
      {props.children}
    </button>
  );
}

export function Badge({ children, tone }: { children: ReactNode; tone?: string }) {
  return <span className={`badge badge-${tone ?? 'neutral'}`}>{children}</span>;
}

export function Severity({ value }: { value: string }) {
  const known = ['informational', 'low', 'medium', 'high', 'critical'].includes(value);
  return <Badge tone={known ? `sev-${value}` : 'neutral'}>{known ? value : inert(value).slice(0, 20)}</Badge>;
}

export function Status({ value }: { value: string }) {
  const tone = { open: 'warn', acknowledged: 'info', snoozed: 'neutral', resolved: 'ok', succeeded: 'ok', sent: 'ok', dead: 'bad', pending: 'info', sending: 'info', suppressed: 'neutral', failed: 'bad', skipped: 'neutral', running: 'info', 'partially-succeeded': 'warn' }[value] ?? 'neutral';
  return <Badge tone={tone}>{inert(value).slice(0, 30)}</Badge>;
}

export function Card({ title, children, actions, id }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2 id={id}>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      <div className="card-body">{children}</div>
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div className="state state-error" role="alert">
      <strong>{e?.body?.code ?? 'Error'}:</strong> {inert(e?.message ?? (error as Error)?.message ?? String(error))}
      {e?.body?.details?.length ? (
        <ul>
          {e.body.details.slice(0, 50).map((d, i) => (
            <li key={i}>{inert(d)}</li>
          ))}
        </ul>
      ) : null}
      {e?.body?.hint && <div className="hint">{inert(e.body.hint)}</div>}
      {retry && (
        <div>
          <Button onClick={retry}>Try again</Button>
        </div>
      )}
    </div>
  );
}

export function Field({ label, children, help, id }: { label: string; children: ReactNode; help?: string; id: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {help && <div className="help" id={`${id}-help`}>{help}</div>}
    </div>
  );
}

/** Loads data and reloads it on demand; `deps` change → reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** Subscribes to server-sent events; `onEvent(name)` for each event of the given names. */
export function useLive(names: string[], onEvent: (name: string, data: unknown) => void): boolean {
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const es = new EventSource('/api/events');
    es.addEventListener('open', () => setConnected(true));
    es.addEventListener('error', () => setConnected(false));
    es.addEventListener('hello', () => setConnected(true));
    const handlers = names.map((n) => {
      const h = (e: MessageEvent) => {
        let d: unknown;
        try {
          d = JSON.parse(String(e.data));
        } catch {
          d = undefined;
        }
        onEvent(n, d);
      };
      es.addEventListener(n, h as EventListener);
      return h;
    });
    return () => {
      handlers.length = 0;
      es.close();
    };
  }, [names.join(',')]);
  return connected;
}
