import { describe, expect, it } from 'vitest';
import type { TenantContext } from '../../model.ts';
import { normalizeRecord } from '../normalize.ts';
import type { NormalizedRecord } from '../record.ts';
import { actionKind, deletesAll, folderLeaf, hidingScore, inboxRuleFacts, outlookRuleFacts, suspiciousKeywords, throwawayName } from './inbox-rule.ts';

const ctx: TenantContext = { tenantId: 't', name: 'c', acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };

function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: 'x', CreationTime: '2026-01-01T00:00:00', OrganizationId: 't', UserId: 'jane@contoso.com', ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}

const p = (pairs: Record<string, string>) => Object.entries(pairs).map(([Name, Value]) => ({ Name, Value }));

describe('inbox rule facts from cmdlets', () => {
  it('collects forward, attachment and redirect recipients', () => {
    const f = inboxRuleFacts(rec({ Operation: 'New-InboxRule', Parameters: p({ Name: 'a', ForwardTo: 'x@y.org', RedirectTo: 'SMTP:z@w.org', ForwardAsAttachmentTo: 'x@y.org' }) }), ctx)!;
    expect(f.forwards.map((x) => x.action)).toEqual(['ForwardTo', 'RedirectTo', 'ForwardAsAttachmentTo']);
    expect(f.recipients.map((r) => r.address)).toEqual(['x@y.org', 'z@w.org']);
  });

  it('knows conditions, exceptions and their keywords', () => {
    const f = inboxRuleFacts(rec({ Operation: 'New-InboxRule', Parameters: p({ Name: 'a', SubjectOrBodyContainsWords: 'invoice;Wire Transfer', ExceptIfFrom: 'boss@contoso.com', HasAttachment: 'False' }) }))!;
    expect(f.conditions).toEqual(['SubjectOrBodyContainsWords']);
    expect(f.exceptions).toEqual(['ExceptIfFrom']);
    expect(f.conditionWords).toEqual(['invoice', 'wire transfer']);
    expect(f.conditionsComplete).toBe(true);
  });

  it('sees that Set-InboxRule may not show every condition', () => {
    const f = inboxRuleFacts(rec({ Operation: 'Set-InboxRule', Parameters: p({ Identity: 'jane\\Promo', DeleteMessage: 'True' }) }))!;
    expect(f.ruleName).toBe('Promo');
    expect(f.conditionsComplete).toBe(false);
    expect(deletesAll(f)).toBe(true);
  });

  it('finds delete-all rules: delete, soft delete or a move to Deleted Items with no condition', () => {
    const del = (params: Record<string, string>) => deletesAll(inboxRuleFacts(rec({ Operation: 'New-InboxRule', Parameters: p(params) }))!);
    expect(del({ Name: 'a', DeleteMessage: 'True' })).toBe(true);
    expect(del({ Name: 'a', SoftDeleteMessage: '$true' })).toBe(true);
    expect(del({ Name: 'a', MoveToFolder: ':\\Deleted Items' })).toBe(true);
    expect(del({ Name: 'a', From: 'x@y.org', DeleteMessage: 'True' })).toBe(false);
    expect(del({ Name: 'a', DeleteMessage: 'False' })).toBe(false);
    expect(del({ Name: 'a', Enabled: 'False', DeleteMessage: 'True' })).toBe(false);
  });

  it('is undefined for other operations', () => {
    expect(inboxRuleFacts(rec({ Operation: 'Set-Mailbox' }))).toBeUndefined();
  });
});

describe('Outlook desktop rule actions (UpdateInboxRules)', () => {
  const props = (pairs: Record<string, string>) => p(pairs).map(({ Name, Value }) => ({ name: Name, value: Value }));

  it('reads RuleActions JSON with Outlook action names', () => {
    const f = outlookRuleFacts(props({ RuleOperation: 'AddMailboxRule', RuleName: 'Sync', RuleActions: '[{"ActionType":"ForwardAsAttachmentToRecipientsAction","Recipients":["a@x.org","b@contoso.com"]}]' }), ctx);
    expect(f.change).toBe('create');
    expect(f.forwards).toHaveLength(1);
    expect(f.forwards[0].action).toBe('ForwardAsAttachmentTo');
    expect(f.recipients.map((r) => r.address)).toEqual(['a@x.org', 'b@contoso.com']);
  });

  it('reads ServerRule JSON recipients at Actions[].Recipients[].Values[].Value', () => {
    const f = outlookRuleFacts(props({ ServerRule: '{"Condition":"","Actions":[{"ActionType":"Forward","Recipients":[{"Values":[{"Value":"SMTP:a@x.org"},{"Value":"Display"}]}]}]}' }), ctx);
    expect(f.recipients.map((r) => r.address)).toEqual(['a@x.org']);
    expect(f.change).toBe('modify');
  });

  it('falls back to scanning text that is not JSON', () => {
    const f = outlookRuleFacts(props({ RuleOperation: 'AddMailboxRule', RuleActions: 'RedirectToRecipientsAction: a@x.org (truncated' }), ctx);
    expect(f.forwards[0]?.action).toBe('RedirectTo');
    expect(f.recipients[0]?.address).toBe('a@x.org');
  });

  it('survives hostile RuleActions (deep nesting, wrong types, huge text)', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    expect(() => outlookRuleFacts(props({ RuleActions: deep }), ctx)).not.toThrow();
    expect(() => outlookRuleFacts(props({ RuleActions: '{"Actions":5}' }), ctx)).not.toThrow();
    expect(() => outlookRuleFacts(props({ RuleActions: 'x'.repeat(100_000) }), ctx)).not.toThrow();
  });

  it('takes exit-after-execution from RuleState and keywords from RuleCondition', () => {
    const f = outlookRuleFacts(props({ RuleOperation: 'AddMailboxRule', RuleState: 'Enabled, ExitAfterExecution', RuleCondition: "{((Subject Contains 'invoice'))}", RuleActions: '[{"ActionType":"MarkAsRead"}]' }), ctx);
    expect(f.stopProcessing).toBe(true);
    expect(f.markAsRead).toBe(true);
    expect(f.conditionWords).toEqual(['invoice']);
    expect(f.conditionsComplete).toBe(true);
  });

  it('treats a modify burst with only RuleId as nothing to judge', () => {
    const f = outlookRuleFacts(props({ RuleOperation: 'ModifyMailboxRule', RuleId: '7' }), ctx);
    expect(f.forwards).toEqual([]);
    expect(f.deletes).toBe(false);
    expect(f.conditionsComplete).toBe(false);
  });

  it('reads MAPI numeric action types (OP_FORWARD 7, OP_DELEGATE 8, OP_DELETE 10)', () => {
    const f = outlookRuleFacts(props({ RuleOperation: 'AddMailboxRule', RuleActions: '[{"ActionType":7,"Recipients":["a@x.org"]},{"ActionType":"10"}]' }), ctx);
    expect(f.forwards[0]?.action).toBe('ForwardTo');
    expect(f.deletes).toBe(true);
  });

  it('maps action names to kinds', () => {
    expect(actionKind('ForwardToRecipientsAction')).toBe('forward');
    expect(actionKind('OP_FORWARD')).toBe('forward');
    expect(actionKind('RedirectToRecipientsAction')).toBe('redirect');
    expect(actionKind('ForwardAsAttachment')).toBe('forwardAsAttachment');
    expect(actionKind('DeleteMessage')).toBe('delete');
    expect(actionKind('MoveToFolder')).toBe('move');
    expect(actionKind('Whatever')).toBe('other');
  });
});

describe('hiding score', () => {
  const score = (params: Record<string, string>) => hidingScore(inboxRuleFacts(rec({ Operation: 'New-InboxRule', Parameters: p(params) }))!);

  it('scores folder, mark read, stop processing, name and keywords together', () => {
    const s = score({ Name: '.', MoveToFolder: 'RSS Feeds', MarkAsRead: 'True', StopProcessingRules: 'True', SubjectContainsWords: 'hacked' });
    expect(s.score).toBe(2 + 1 + 1 + 2 + 3);
    expect(s.signals).toContain('symbol-only name');
  });

  it('never reaches the alert threshold on one signal alone', () => {
    for (const params of <Array<Record<string, string>>>[{ Name: '.' }, { Name: 'a', MoveToFolder: 'RSS Feeds' }, { Name: 'Newsletters', MarkAsRead: 'True' }, { Name: 'Facturas', SubjectContainsWords: 'invoice' }, { Name: 'Sec', SubjectContainsWords: 'phishing' }]) {
      expect(score(params).score).toBeLessThan(4);
    }
  });

  it('recognises throwaway names and folder paths', () => {
    expect(throwawayName('..')).toBe('symbols');
    expect(throwawayName(' ')).toBe('symbols');
    expect(throwawayName('x')).toBe('tiny');
    expect(throwawayName('Newsletters')).toBeUndefined();
    expect(folderLeaf('jane@contoso.com:\\Inbox\\RSS Feeds')).toBe('rss feeds');
  });

  it('finds suspicious keywords without regexes from record content', () => {
    expect(suspiciousKeywords(['re: invoice 44', 'payroll'])).toEqual(['invoice', 'payroll']);
    expect(suspiciousKeywords(['newsletter'])).toEqual([]);
    expect(suspiciousKeywords(['(.*)+$', '[a-z'])).toEqual([]);
  });
});
