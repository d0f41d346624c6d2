import { describe, expect, it } from 'vitest';
import { renderReports, renderTable, reportJson, storedReport } from './format.ts';
import type { TenantReport } from './onboard.ts';
import { toKnownRecipients } from './onboard.ts';

const ok = (reason: string) => ({ ok: true, reason });

describe('tenant output', () => {
  it('pads columns by characters so ✓ and ✗ line up', () => {
    expect(renderTable(['a', 'bb'], [['✓ x', 'y'], ['z', '✗']])).toBe('a    bb\n---  --\n✓ x  y\nz    ✗\n');
  });

  it('lists fixes under the table, numbered, and never prints a token', () => {
    const r: TenantReport = {
      tenantId: 't1',
      name: 'Contoso',
      healthy: false,
      checks: {
        token: { ok: false, reason: 'admin consent missing [AADSTS700016]', fix: 'admin consent missing: open https://login.example/t1/adminconsent?client_id=c' },
        directory: ok('2 verified domain(s)'),
        acceptedDomains: ok('2 accepted domain(s)'),
        recipients: { ok: false, reason: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl leaked' },
        auditLog: ok('unified audit log on'),
        subscriptions: ok('3/3 enabled'),
      },
    };
    const out = renderReports([r]);
    expect(out).toContain('✗ admin consent missing [AADSTS700016] [1]');
    expect(out).toContain('[1] Contoso / token: admin consent missing: open https://login.example/t1/adminconsent?client_id=c');
    expect(out).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\./);
    expect(out).toContain('0/1 tenant(s) healthy');
  });

  it('reports a never-checked tenant as unhealthy with the fix to onboard it', () => {
    const json = reportJson(storedReport({ tenantId: 't1', name: 'Contoso', defaultDomain: null, source: 'manual', enabled: true, addedAt: '', context: undefined, contextLoadedAt: null, health: undefined, healthCheckedAt: null }));
    expect(json).toMatchObject({ tenantId: 't1', healthy: false, checks: { token: { ok: false, reason: 'not checked yet', fix: 'run `tenantwatch tenants onboard`' } } });
  });

  it('turns Exchange recipients into known recipients with the contact\'s external address', () => {
    expect(
      toKnownRecipients([
        { identity: 'Drop', recipientTypeDetails: 'MailContact', primarySmtpAddress: 'drop@contoso.com', externalEmailAddress: 'SMTP:Drop@Mail.example.net' },
        { identity: 'Jane', recipientTypeDetails: 'UserMailbox', primarySmtpAddress: 'jane@contoso.com', externalEmailAddress: null },
        { identity: 'Empty', recipientTypeDetails: 'MailUser', primarySmtpAddress: '', externalEmailAddress: null },
      ]),
    ).toEqual([
      { identity: 'Drop', address: 'drop@mail.example.net', type: 'MailContact' },
      { identity: 'Jane', address: 'jane@contoso.com', type: 'UserMailbox' },
    ]);
  });
});
