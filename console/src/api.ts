// The console's only way to the server: same-origin fetch with the session cookie and the CSRF token.
export interface ApiErrorBody {
  code: string;
  message: string;
  hint?: string;
  details?: string[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody | undefined;
  constructor(status: number, body: ApiErrorBody | undefined) {
    super(body?.message ?? `request failed (${status})`);
    this.status = status;
    this.body = body;
  }
}

let csrfToken: string | null = null;
let onUnauthenticated: () => void = () => {};

export function setCsrfToken(t: string | null): void {
  csrfToken = t;
}

export function whenUnauthenticated(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && url !== '/api/login') onUnauthenticated();
    throw new ApiError(res.status, (json as { error?: ApiErrorBody } | undefined)?.error);
  }
  return json as T;
}

export const get = <T>(url: string) => api<T>('GET', url);
export const post = <T>(url: string, body: unknown = {}) => api<T>('POST', url, body);
export const put = <T>(url: string, body: unknown) => api<T>('PUT', url, body);
export const patch = <T>(url: string, body: unknown) => api<T>('PATCH', url, body);
export const del = <T>(url: string) => api<T>('DELETE', url);

export function qs(params: Record<string, string | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

export type Role = 'admin' | 'analyst' | 'viewer';
export interface Me {
  username: string;
  role: Role;
}

export function may(me: Me | null, what: 'read' | 'triage' | 'remediate' | 'admin'): boolean {
  if (!me) return false;
  if (me.role === 'admin') return true;
  if (me.role === 'analyst') return what !== 'admin';
  return what === 'read';
}

export interface AlertItem {
  id: string;
  ruleId: string;
  behaviour: string;
  severity: string;
  tenantId: string;
  tenantName?: string;
  userId: string;
  status: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  summary: string;
}

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'];
export const STATUSES = ['open', 'acknowledged', 'snoozed', 'resolved', 'suppressed'];
export const BEHAVIOURS: Record<string, string> = {
  'inbox-rule-external-forward': 'Inbox rule forwards outside',
  'inbox-rule-delete-all': 'Inbox rule deletes all mail',
  'inbox-rule-hide': 'Inbox rule hides mail',
  'mailbox-forwarding-external': 'Mailbox forwarding outside',
  'transport-rule-external': 'Transport rule sends outside',
  'mailbox-permission-grant': 'Mailbox access granted',
  'illicit-consent': 'Consent to a mail app',
  'account-security-weakened': 'Account security weakened',
  'signin-anomaly': 'Unusual sign-in',
  'shared-destination': 'Shared forwarding destination',
};

export const REMEDIATION_STEPS: Array<{ id: string; label: string; help: string }> = [
  { id: 'block-sign-in', label: 'Block sign-in', help: 'Disable the account (accountEnabled = false).' },
  { id: 'revoke-sessions', label: 'Revoke sessions', help: 'Sign the user out everywhere (refresh tokens revoked).' },
  { id: 'reset-password', label: 'Reset password', help: 'Set a new random password.' },
  { id: 'disable-inbox-rules', label: 'Disable malicious inbox rules', help: 'Turn off the rules the alert found (hidden ones too).' },
  { id: 'clear-forwarding', label: 'Clear mailbox forwarding', help: 'Remove ForwardingSmtpAddress / ForwardingAddress.' },
];
