import { describe, expect, it } from 'vitest';
import type { TenantContext } from '../model.ts';
import { createDetector } from './detector.ts';
import { matchingExclusion } from './exclusions.ts';
import { createMemoryHistory } from './history.ts';
import { normalizeRecord } from './normalize.ts';
import type { NormalizedRecord } from './record.ts';
import { buildRulePack } from './rule-schema.ts';

const rule = (id: string, ops: string, extra = '') => ({
  path: `${id}.yaml`,
  text: `id: ${id}
title: Test rule ${id}
behaviour: inbox-rule-external-forward
severity: high
mitre: [T1114.003]
operations: [${ops}]
conditions:
  - { fact: inboxRuleExternalRecipients, nonEmpty: true }
target: inboxRuleExternalRecipients
summary: '{userId} forwards to {inboxRuleExternalRecipients}'
description: Forwarding outside, for tests.
falsePositives: [none]
runbook: Check with the user.
${extra}`,
});

const { pack } = buildRulePack([rule('fwd', 'New-InboxRule, UpdateInboxRules')]);
const ctx: TenantContext = { tenantId: 't', name: 'c', acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
let n = 0;
function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: `r${n++}`, CreationTime: '2026-01-01T00:00:00', OrganizationId: 't', UserId: 'jane@contoso.com', Operation: 'New-InboxRule', ClientIP: '90.24.113.8:443', ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}
const fwd = (to: string, o: Record<string, unknown> = {}) => rec({ Parameters: [{ Name: 'Name', Value: 'r' }, { Name: 'ForwardTo', Value: to }], ...o });

describe('the detector', () => {
  it('produces a detection with the contract fields', () => {
    const [d] = createDetector({ pack }).evaluate(fwd('drop@x.org'), ctx);
    expect(d).toMatchObject({ ruleId: 'fwd', behaviour: 'inbox-rule-external-forward', severity: 'high', tenantId: 't', userId: 'jane@contoso.com', attempt: false, target: 'drop@x.org', clientIp: '90.24.113.8', occurredAt: '2026-01-01T00:00:00.000Z' });
    expect(d.summary).toBe('jane@contoso.com forwards to drop@x.org');
    expect(d.facts?.inboxRuleExternalRecipients).toEqual(['drop@x.org']);
  });

  it('only runs rules indexed by the record operation, in any letter case', () => {
    const det = createDetector({ pack });
    expect(det.evaluate(fwd('drop@x.org', { Operation: 'new-inboxrule' }), ctx)).toHaveLength(1);
    expect(det.evaluate(fwd('drop@x.org', { Operation: 'Set-Mailbox' }), ctx)).toHaveLength(0);
    expect(det.handles('MailItemsAccessed')).toBe(false);
    expect(det.handles('New-InboxRule')).toBe(true);
    expect(det.handles('UserLoggedIn')).toBe(true);
  });

  it('caps failed operations at low and flags them as attempts', () => {
    const [d] = createDetector({ pack }).evaluate(fwd('drop@x.org', { ResultStatus: 'False' }), ctx);
    expect(d).toMatchObject({ severity: 'low', attempt: true });
  });

  it('caps service-account actors at low', () => {
    const [d] = createDetector({ pack }).evaluate(fwd('drop@x.org', { UserId: 'NT AUTHORITY\\SYSTEM (w3wp)' }), ctx);
    expect(d.severity).toBe('low');
  });

  it('applies per-tenant overrides: disable or change severity', () => {
    const off = createDetector({ pack, overrides: [{ ruleId: 'fwd', tenantId: 'T', enabled: false }] });
    expect(off.evaluate(fwd('drop@x.org'), ctx)).toHaveLength(0);
    expect(off.evaluate(fwd('drop@x.org', { OrganizationId: 'other' }), { ...ctx, tenantId: 'other' })).toHaveLength(1);
    const sev = createDetector({ pack, overrides: [{ ruleId: 'fwd', severity: 'medium' }, { ruleId: 'fwd', tenantId: 't', severity: 'critical' }] });
    expect(sev.evaluate(fwd('drop@x.org'), ctx)[0].severity).toBe('critical');
    expect(sev.evaluate(fwd('drop@x.org', { OrganizationId: 'u' }), { ...ctx, tenantId: 'u' })[0].severity).toBe('medium');
  });

  it('escapes nothing but strips control characters and bounds the summary', () => {
    const [d] = createDetector({ pack }).evaluate(fwd(`drop@x.org`, { UserId: 'a\nb\u0000c'.repeat(200) }), ctx);
    expect(d.summary.includes('\n') || d.summary.includes('\u0000')).toBe(false);
    expect(d.summary.length).toBeLessThanOrEqual(501);
  });

  it('explains which facts were derived and why a rule fired or not', () => {
    const ex = createDetector({ pack }).explain(fwd('bob@contoso.com'), ctx);
    expect(ex.rules).toEqual([{ ruleId: 'fwd', matched: false, conditions: [{ condition: 'inboxRuleExternalRecipients is not empty', value: '[]', held: false }] }]);
    expect(ex.facts.inboxRuleExternalRecipients).toEqual([]);
    expect(ex.detections).toEqual([]);
  });

  it('names the history keys a record needs, and learns sign-ins even with no sign-in rule', () => {
    const det = createDetector({ pack });
    expect(det.historyKeys(fwd('drop@x.org'), ctx)).toEqual([
      { tenantId: 't', key: 'signin:jane@contoso.com' },
      { tenantId: '*', key: 'dest:drop@x.org' },
    ]);
    const h = createMemoryHistory();
    det.evaluate(rec({ Operation: 'UserLoggedIn', ResultStatus: 'Success' }), ctx, h);
    expect((h.get('t', 'signin:jane@contoso.com') as { n: number }).n).toBe(1);
  });

  it('applies exclusions by destination pattern, user and IP range', () => {
    const [d] = createDetector({ pack }).evaluate(fwd('drop@partner.example'), ctx);
    expect(matchingExclusion([{ behaviour: 'inbox-rule-external-forward', destination: '*@partner.example' }], d)).toBeDefined();
    expect(matchingExclusion([{ destination: '*@other.example' }], d)).toBeUndefined();
    expect(matchingExclusion([{ user: 'JANE@contoso.com' }], d)).toBeDefined();
    expect(matchingExclusion([{ ipRange: '90.24.0.0/16' }], d)).toBeDefined();
    expect(matchingExclusion([{ ipRange: '10.0.0.0/8' }], d)).toBeUndefined();
    expect(matchingExclusion([{ user: 'jane@contoso.com', expiresAt: '2025-01-01T00:00:00Z' }], d)).toBeUndefined();
  });
});

describe('mail contacts created in the log', () => {
  it('resolve a later ForwardingAddress, and the contact key is preloaded', async () => {
    const { loadRulePackFromDirs } = await import('../../rules/index.ts');
    const det = createDetector({ pack: loadRulePackFromDirs().pack });
    const h = createMemoryHistory();
    const contact = rec({ Operation: 'New-MailContact', Parameters: [{ Name: 'Name', Value: 'Backup Box' }, { Name: 'ExternalEmailAddress', Value: 'SMTP:backup@mail.example.net' }] });
    expect(det.handles('New-MailContact')).toBe(true);
    expect(det.historyKeys(contact, ctx)).toContainEqual({ tenantId: 't', key: 'contact:backup box' });
    det.evaluate(contact, ctx, h);
    const fwdRec = rec({ Operation: 'Set-Mailbox', Parameters: [{ Name: 'Identity', Value: 'jane' }, { Name: 'ForwardingAddress', Value: 'backup box' }] });
    expect(det.historyKeys(fwdRec, ctx)).toContainEqual({ tenantId: 't', key: 'contact:backup box' });
    const ds = det.evaluate(fwdRec, ctx, h);
    expect(ds.map((d) => [d.ruleId, d.target])).toEqual([['mailbox-forwarding-external', 'backup@mail.example.net']]);
  });
});
