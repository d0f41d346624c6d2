import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../normalize.ts';
import type { NormalizedRecord } from '../record.ts';
import { consentFacts, isServiceActor, mfaChange, parseScopes, passwordReset, roleAdd } from './entra.ts';

function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: 'x', CreationTime: '2026-01-01T00:00:00', OrganizationId: 't', UserId: 'admin@contoso.com', RecordType: 8, ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}
const mp = (pairs: Record<string, [string, string]>) => Object.entries(pairs).map(([Name, [NewValue, OldValue]]) => ({ Name, NewValue, OldValue }));

describe('consent scopes', () => {
  it('reads scopes from ConsentAction.Permissions text', () => {
    expect(parseScopes('[] => [[Id: k, ClientId: c, ConsentType: Principal, Scope:  Mail.ReadWrite offline_access User.Read, CreatedDateTime: , LastModifiedDateTime ]]; ')).toEqual(['Mail.ReadWrite', 'offline_access', 'User.Read']);
    expect(parseScopes(' Mail.Read offline_access')).toEqual(['Mail.Read', 'offline_access']);
  });

  it('classifies user consent to mail scopes', () => {
    const c = consentFacts(rec({ Operation: 'Consent to application.', ObjectId: 'sp1', ModifiedProperties: mp({ 'ConsentContext.IsAdminConsent': ['False', ''], 'ConsentAction.Permissions': ['[[ConsentType: Principal, Scope: Mail.Read Mail.Send full_access_as_user User.Read, ]]', ''] }) }))!;
    expect(c.isAdminConsent).toBe(false);
    expect(c.mailScopes).toEqual(['Mail.Read', 'Mail.Send', 'full_access_as_user']);
    expect(c.appId).toBe('sp1');
  });

  it('reads DelegatedPermissionGrant.Scope and IsAdminConsent', () => {
    const g = consentFacts(rec({ Operation: 'Add delegated permission grant.', ModifiedProperties: mp({ 'DelegatedPermissionGrant.Scope': [' Files.ReadWrite.All User.Read', ''], 'DelegatedPermissionGrant.ConsentType': ['AllPrincipals', ''], 'ServicePrincipal.ObjectID': ['sp2', ''] }) }))!;
    expect(g.broadScopes).toEqual(['Files.ReadWrite.All']);
    expect(g.isAdminConsent).toBe(true);
    expect(g.appId).toBe('sp2');
    const a = consentFacts(rec({ Operation: 'Consent to application.', ModifiedProperties: mp({ 'ConsentContext.IsAdminConsent': ['True', ''], 'ConsentAction.Permissions': ['Scope: User.Read,', ''] }) }))!;
    expect(a.isAdminConsent).toBe(true);
    expect(a.mailScopes).toEqual([]);
  });
});

describe('MFA changes', () => {
  it('sees StrongAuthenticationRequirement and Method removed', () => {
    expect(mfaChange(rec({ Operation: 'Update user.', ModifiedProperties: mp({ StrongAuthenticationRequirement: ['[]', '[{"State":1}]'] }) }))?.kind).toBe('removed');
    expect(mfaChange(rec({ Operation: 'Update user.', ModifiedProperties: mp({ StrongAuthenticationMethod: ['[\r\n]', '[{"MethodType":6}]'] }) }))?.kind).toBe('removed');
    expect(mfaChange(rec({ Operation: 'Disable Strong Authentication.' }))?.kind).toBe('disabled');
  });

  it('does not call MFA being added or other changes a removal', () => {
    expect(mfaChange(rec({ Operation: 'Update user.', ModifiedProperties: mp({ StrongAuthenticationRequirement: ['[{"State":1}]', '[]'] }) }))?.kind).not.toBe('removed');
    expect(mfaChange(rec({ Operation: 'Update user.', ModifiedProperties: mp({ JobTitle: ['["A"]', '["B"]'] }) }))).toBeUndefined();
    expect(mfaChange(rec({ Operation: 'Update user.', ModifiedProperties: mp({ StrongAuthenticationMethod: ['[{"MethodType":6},{"MethodType":7}]', '[{"MethodType":6}]'] }) }))?.kind).toBe('methods-changed');
  });
});

describe('password resets, role adds and actors', () => {
  it('tells a reset by someone else from one by the user', () => {
    expect(passwordReset(rec({ Operation: 'Reset user password.', ObjectId: 'jane@contoso.com' }))).toEqual({ target: 'jane@contoso.com', byOther: true });
    expect(passwordReset(rec({ Operation: 'Reset user password.', UserId: 'jane@contoso.com', Target: [{ ID: 'JANE@contoso.com', Type: 5 }] }))?.byOther).toBe(false);
    expect(passwordReset(rec({ Operation: 'Change user password.' }))).toBeUndefined();
  });

  it('knows privileged roles by template id and name', () => {
    expect(roleAdd(rec({ Operation: 'Add member to role.', ObjectId: 'bob', ModifiedProperties: mp({ 'Role.TemplateId': ['62e90394-69f5-4237-9190-012177145e10', ''], 'Role.DisplayName': ['Global Administrator', ''] }) }))).toMatchObject({ top: true, privileged: true, member: 'bob' });
    expect(roleAdd(rec({ Operation: 'Add member to role.', ModifiedProperties: mp({ 'Role.DisplayName': ['Exchange Administrator', ''] }) }))).toMatchObject({ top: false, privileged: true });
    expect(roleAdd(rec({ Operation: 'Add member to role.', ModifiedProperties: mp({ 'Role.DisplayName': ['Reports Reader', ''] }) }))).toMatchObject({ privileged: false });
  });

  it('recognises service-account actors', () => {
    expect(isServiceActor(rec({ Operation: 'Set-Mailbox', UserId: 'NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)' }))).toBe(true);
    expect(isServiceActor(rec({ Operation: 'Set-Mailbox', UserId: 'jane@contoso.com', UserType: 0 }))).toBe(false);
  });
});
