// The words every channel shows, from one NotificationView: title, facts, links. Raw strings; each channel
// escapes them for its medium.
import type { NotificationMessage, NotificationView } from './types.ts';

export const BEHAVIOUR_LABELS: Record<string, string> = {
  'inbox-rule-external-forward': 'Inbox rule forwards mail outside the organization',
  'inbox-rule-delete-all': 'Inbox rule deletes all mail',
  'inbox-rule-hide': 'Inbox rule hides mail',
  'mailbox-forwarding-external': 'Mailbox forwarding outside the organization',
  'transport-rule-external': 'Transport rule sends mail outside the organization',
  'mailbox-permission-grant': 'Mailbox access granted',
  'illicit-consent': 'Consent to an application with mail access',
  'account-security-weakened': 'Account security weakened',
  'signin-anomaly': 'Unusual sign-in',
  'shared-destination': 'Several users forward to the same address',
};

export function behaviourLabel(b: string): string {
  return BEHAVIOUR_LABELS[b] ?? b;
}

export function titleOf(v: NotificationView): string {
  const prefix = v.event === 'escalated' ? 'Escalated: ' : v.event === 'test' ? 'Test: ' : '';
  return `${prefix}[${v.severity.toUpperCase()}] ${behaviourLabel(v.behaviour)}`;
}

function where(v: NotificationView): string | undefined {
  if (!v.ip) return undefined;
  const place = [v.city, v.countryName ?? v.country].filter(Boolean).join(', ');
  const net = v.asn ? `AS${v.asn}${v.asOrg ? ` ${v.asOrg}` : ''}` : '';
  const parts = [v.ip, place && `(${place})`, net].filter(Boolean).join(' ');
  const flags: string[] = [];
  if (v.newIp === true) flags.push('new IP for this user');
  if (v.newIp === false) flags.push('IP seen before for this user');
  if (v.newCountry === true) flags.push('new country for this user');
  if (v.newAsn === true) flags.push('new network for this user');
  if (v.hosting) flags.push('hosting/VPN network');
  return flags.length ? `${parts}; ${flags.join(', ')}` : parts;
}

/** Label/value pairs shown under the summary, in order. */
export function factsOf(v: NotificationView): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['Tenant', v.tenantName ? `${v.tenantName} (${v.tenantId})` : v.tenantId],
    ['User', v.userId],
    ['Severity', v.previousSeverity ? `${v.severity} (was ${v.previousSeverity})` : v.severity],
    ['Rule', v.ruleId],
  ];
  const w = where(v);
  if (w) out.push(['From', w]);
  out.push(['Records', String(v.count)]);
  out.push(['First seen', v.firstSeen]);
  if (v.lastSeen !== v.firstSeen) out.push(['Last seen', v.lastSeen]);
  out.push(['Alert', v.alertId]);
  return out;
}

export const REMEDIATE_LABEL = 'Secure and Remediate';
export const OPEN_LABEL = 'Open alert';

/** The view a test message uses (`tenantwatch channels test`). */
export function testView(now: string): NotificationView {
  return {
    alertId: 'test',
    event: 'test',
    tenantId: '00000000-0000-4000-8000-000000000000',
    tenantName: 'tenantwatch',
    userId: 'test@tenantwatch.invalid',
    ruleId: 'channel-test',
    behaviour: 'inbox-rule-external-forward',
    severity: 'informational',
    summary: 'This is a test message from tenantwatch: the channel is configured correctly.',
    count: 1,
    firstSeen: now,
    lastSeen: now,
  };
}

export function linksOf(m: NotificationMessage): Array<{ label: string; url: string }> {
  const out: Array<{ label: string; url: string }> = [];
  if (m.remediateUrl) out.push({ label: REMEDIATE_LABEL, url: m.remediateUrl });
  if (m.alertUrl) out.push({ label: OPEN_LABEL, url: m.alertUrl });
  return out;
}
