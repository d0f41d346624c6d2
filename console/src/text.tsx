// Everything an attacker controls goes through <T>: plain text (React escapes it), bidirectional
// overrides made visible and inert, long strings truncated. Never a link, never HTML.
import { useState } from 'react';

// U+202A-U+202E (embeddings/overrides), U+2066-U+2069 (isolates), U+200E/U+200F (marks), U+061C.
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;
// eslint-disable-next-line no-control-regex -- C0 controls are made visible on purpose
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

export function inert(value: unknown): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return s
    .replace(BIDI, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}]`)
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function truncate(s: string, max: number): { text: string; cut: number } {
  if (s.length <= max) return { text: s, cut: 0 };
  return { text: s.slice(0, max), cut: s.length - max };
}

/** Attacker-controlled text: inert, truncated to `max` characters, with a toggle for a longer view. */
export function T({ v, max = 300, className }: { v: unknown; max?: number; className?: string }) {
  const [more, setMore] = useState(false);
  const s = inert(v);
  const { text, cut } = truncate(s, more ? Math.max(max, 10_000) : max);
  return (
    <span className={`inert ${className ?? ''}`} dir="ltr">
      {text}
      {cut > 0 && (
        <>
          <span className="cut">… ({cut.toLocaleString()} more characters)</span>
          {!more && s.length > max && (
            <button type="button" className="link-button" onClick={(e) => { e.stopPropagation(); e.preventDefault(); setMore(true); }}>
              show more
            </button>
          )}
        </>
      )}
    </span>
  );
}

/** Raw JSON of a record, on demand: a bounded, inert <pre>. */
export function RawJson({ value, max = 50_000 }: { value: unknown; max?: number }) {
  let s: string;
  try {
    s = JSON.stringify(value, null, 2) ?? '';
  } catch {
    s = String(value);
  }
  const { text, cut } = truncate(inert(s), max);
  return (
    <pre className="raw" tabIndex={0} aria-label="Raw JSON">
      {text}
      {cut > 0 ? `\n… (${cut.toLocaleString()} more characters)` : ''}
    </pre>
  );
}

/** Only our own origin's http(s) URLs become links (never javascript:, data:, or another site). */
export function safeHref(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 4000) return undefined;
  try {
    const u = new URL(url, window.location.origin);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && u.origin === window.location.origin) return u.pathname + u.search + u.hash;
  } catch {
    return undefined;
  }
  return undefined;
}

export function when(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return inert(iso).slice(0, 40);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function ago(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
