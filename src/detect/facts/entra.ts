// Entra ID facts: consent scopes, MFA changes, password resets by someone else, admin role adds,
// and actor facts (service accounts). ModifiedProperties values are often JSON-encoded strings.
import { modified, nv, type NormalizedRecord } from '../record.ts';

export interface ConsentFacts {
  /** Delegated scopes asked for (as written, de-duplicated). */
  scopes: string[];
  /** Scopes that read, change or send mail (Mail.*, full_access_as_user, EWS/IMAP/POP/SMTP …). */
  mailScopes: string[];
  /** Broad non-mail scopes (Directory.ReadWrite.All, Files.ReadWrite.All …). */
  broadScopes: string[];
  /** ConsentContext.IsAdminConsent, or ConsentType AllPrincipals on a grant. */
  isAdminConsent: boolean;
  /** Principal | AllPrincipals | '' */
  consentType: string;
  /** The application (service principal object id or client id) when the record says. */
  appId: string;
  appName: string;
}

const MAIL_SCOPE_RE = /^(mail\.(read|readwrite|send|readbasic)(\.shared|\.all)?|mailboxsettings\.readwrite|full_access_as_user|ews\.accessasuser\.all|imap\.accessasuser\.all|pop\.accessasuser\.all|smtp\.send|exchange\.manage|mailboxfolder\.readwrite(\.all)?|mailboxitem\.(read|readwrite)(\.all)?)$/i;
const BROAD_SCOPE_RE = /^(directory\.(read|readwrite|accessasuser)\.all|files\.(read|readwrite)\.all|sites\.(read|readwrite|fullcontrol|manage)\.all|user\.readwrite\.all|application\.readwrite\.all|approleassignment\.readwrite\.all|rolemanagement\.readwrite\.directory|contacts\.readwrite|notes\.readwrite\.all|chat\.readwrite|user_impersonation)$/i;

/** Scope names from "Scope: Mail.Read offline_access," inside ConsentAction.Permissions, or a plain scope list. */
export function parseScopes(text: string): string[] {
  const out: string[] = [];
  const t = text.length > 32768 ? text.slice(0, 32768) : text;
  const chunks: string[] = [];
  const lower = t.toLowerCase();
  let i = lower.indexOf('scope:');
  if (i < 0) chunks.push(t);
  while (i >= 0 && chunks.length < 32) {
    const start = i + 6;
    let end = t.indexOf(',', start);
    const bracket = t.indexOf(']', start);
    if (end < 0 || (bracket >= 0 && bracket < end)) end = bracket;
    chunks.push(t.slice(start, end < 0 ? undefined : end));
    i = lower.indexOf('scope:', start);
  }
  for (const c of chunks) {
    for (const s of c.split(/[\s,;"[\]]+/)) {
      const scope = s.trim();
      if (!scope || scope.length > 120 || !/^[A-Za-z][\w.-]*$/.test(scope)) continue;
      if (!out.some((x) => x.toLowerCase() === scope.toLowerCase())) out.push(scope);
      if (out.length >= 128) return out;
    }
  }
  return out;
}

function clean(v: string): string {
  // ModifiedProperties values may be JSON strings ("[\r\n  \"x\"\r\n]") or plain.
  const t = v.trim();
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('"') && t.endsWith('"'))) {
    try {
      const parsed = JSON.parse(t);
      if (typeof parsed === 'string') return parsed;
      if (Array.isArray(parsed)) return parsed.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
    } catch {
      // not JSON: use as written
    }
  }
  return t;
}

function boolish(v: string): boolean {
  return /^\s*\[?\s*"?true"?\s*\]?\s*$/i.test(v);
}

/** Consent facts for `Consent to application.` and `Add delegated permission grant.` records. */
export function consentFacts(rec: NormalizedRecord): ConsentFacts | undefined {
  const op = rec.operation.toLowerCase();
  const mp = rec.modifiedProperties;
  let scopes: string[] = [];
  let isAdmin = false;
  let consentType = '';
  let appId = '';
  let appName = '';
  if (op === 'consent to application.' || op === 'consent to application') {
    const perms = modified(mp, 'ConsentAction.Permissions');
    scopes = parseScopes(perms ? perms.newValue : '');
    isAdmin = boolish(modified(mp, 'ConsentContext.IsAdminConsent')?.newValue ?? '');
    const ct = /ConsentType:\s*([A-Za-z]+)/.exec(perms?.newValue ?? '');
    consentType = ct ? ct[1] : '';
    if (consentType.toLowerCase() === 'allprincipals') isAdmin = true;
    appId = rec.objectId;
    appName = rec.target.find((t) => t.type === 1 || t.type === '1')?.id ?? '';
  } else if (op === 'add delegated permission grant.' || op === 'add delegated permission grant') {
    scopes = parseScopes(clean(modified(mp, 'DelegatedPermissionGrant.Scope')?.newValue ?? ''));
    consentType = clean(modified(mp, 'DelegatedPermissionGrant.ConsentType')?.newValue ?? '');
    isAdmin = consentType.toLowerCase() === 'allprincipals';
    appId = clean(modified(mp, 'ServicePrincipal.ObjectID')?.newValue ?? '') || rec.objectId;
    appName = clean(modified(mp, 'ServicePrincipal.DisplayName')?.newValue ?? '');
  } else return undefined;
  return {
    scopes,
    mailScopes: scopes.filter((s) => MAIL_SCOPE_RE.test(s)),
    broadScopes: scopes.filter((s) => BROAD_SCOPE_RE.test(s)),
    isAdminConsent: isAdmin,
    consentType,
    appId: appId.slice(0, 200),
    appName: appName.slice(0, 200),
  };
}

export interface MfaChange {
  kind: 'removed' | 'disabled' | 'methods-changed';
  detail: string;
}

function emptyish(v: string): boolean {
  const t = v.replace(/[\s[\]"{}]/g, '');
  return t === '' || t.toLowerCase() === 'null';
}

const MFA_REMOVAL_OPS = new Set([
  'disable strong authentication.',
  'admin deleted security info',
  'user deleted security info',
  'delete registered security info',
  'admin deleted security info.',
  'disable per-user mfa',
]);

/** MFA weakened: StrongAuthenticationRequirement/Method emptied, "Disable Strong Authentication.", security info deleted. */
export function mfaChange(rec: NormalizedRecord): MfaChange | undefined {
  const op = rec.operation.toLowerCase();
  if (MFA_REMOVAL_OPS.has(op)) return { kind: 'disabled', detail: rec.operation };
  if (op !== 'update user.' && op !== 'update user') return undefined;
  for (const name of ['StrongAuthenticationRequirement', 'StrongAuthenticationMethod', 'StrongAuthenticationPhoneAppDetail', 'StrongAuthenticationUserDetails']) {
    const m = modified(rec.modifiedProperties, name);
    if (!m) continue;
    if (emptyish(m.newValue) && !emptyish(m.oldValue)) return { kind: 'removed', detail: `${name} removed` };
    if (name === 'StrongAuthenticationRequirement' && /"State"\s*:\s*0/.test(m.newValue) && /"State"\s*:\s*[12]/.test(m.oldValue)) {
      return { kind: 'removed', detail: `${name} disabled` };
    }
  }
  for (const name of ['StrongAuthenticationMethod', 'StrongAuthenticationPhoneAppDetail', 'StrongAuthenticationUserDetails']) {
    const m = modified(rec.modifiedProperties, name);
    if (m && m.newValue !== m.oldValue) return { kind: 'methods-changed', detail: `${name} changed` };
  }
  return undefined;
}

/** The target user of an Entra record: a UPN in Target (Type 5), else ObjectId. */
export function targetUser(rec: NormalizedRecord): string {
  for (const t of rec.target) if ((t.type === 5 || t.type === '5') && t.id.includes('@')) return t.id;
  return rec.objectId;
}

export interface PasswordReset {
  target: string;
  byOther: boolean;
}

const RESET_OPS = new Set(['reset user password.', 'reset password (by admin)', 'set force change user password.', 'reset user password']);

/** A password reset, and whether someone other than the user did it (self-service resets are not). */
export function passwordReset(rec: NormalizedRecord): PasswordReset | undefined {
  const op = rec.operation.toLowerCase();
  if (!RESET_OPS.has(op)) return undefined;
  const target = targetUser(rec);
  const actor = rec.userId.toLowerCase();
  const byOther = !!target && !!actor && target.toLowerCase() !== actor && !/self-service|sspr/i.test(rec.userId);
  return { target, byOther };
}

export interface RoleAdd {
  role: string;
  templateId: string;
  member: string;
  /** One of the highly privileged roles (Global/Privileged Role/Exchange/Security/User … Administrator). */
  privileged: boolean;
  /** Global Administrator or Privileged Role Administrator. */
  top: boolean;
}

const PRIVILEGED_TEMPLATES = new Map<string, boolean>([
  ['62e90394-69f5-4237-9190-012177145e10', true], // Global Administrator
  ['e8611ab8-c189-46e8-94e1-60213ab1f814', true], // Privileged Role Administrator
  ['7be44c8a-adaf-4e2a-84d6-ab2649e08a13', true], // Privileged Authentication Administrator
  ['29232cdf-9323-42fd-ade2-1d097af3e4de', false], // Exchange Administrator
  ['194ae4cb-b126-40b2-bd5b-6091b380977d', false], // Security Administrator
  ['fe930be7-5e62-47db-91af-98c3a49a38b1', false], // User Administrator
  ['9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3', false], // Application Administrator
  ['158c047a-c907-4556-b7ef-446551a6b5f7', false], // Cloud Application Administrator
  ['c4e39bd9-1100-46d3-8c65-fb160da0071f', false], // Authentication Administrator
  ['729827e3-9c14-49f7-bb1b-9608f156bbb8', false], // Helpdesk Administrator
  ['f28a1f50-f6e7-4571-818b-6a12f2af6b6c', false], // SharePoint Administrator
  ['b1be1c3e-b65d-4f19-8427-f6fa0d97feb9', false], // Conditional Access Administrator
  ['8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2', false], // Hybrid Identity Administrator
  ['17315797-102d-40b4-93e0-432062caca18', false], // Compliance Administrator
  ['3a2c62db-5318-420d-8d74-23affee5d9d5', false], // Intune Administrator
  ['966707d0-3269-4727-9be2-8c3a10f19b9d', false], // Password Administrator
  ['be2f45a1-457d-42af-a067-6ec1fa63bc45', false], // External Identity Provider Administrator
  ['7495fdc4-34c4-4d15-a289-98788ce399fd', false], // Azure Information Protection Administrator
  ['b0f54661-2d74-4c50-afa3-1ec803f12efe', false], // Billing Administrator
  ['e6d1a23a-da11-4be4-9570-befc86d067a7', false], // Compliance Data Administrator
  ['d29b2b05-8046-44ba-8758-1e26182fcf32', false], // Directory Synchronization Accounts
  ['9360feb5-f418-4baa-8175-e2a00bac4301', false], // Directory Writers
  ['44367163-eba1-44c3-98af-f5787879f96a', false], // Dynamics 365 Administrator
  ['11648597-926c-4cf3-9c36-bcebb0ba8dcc', false], // Power Platform Administrator
  ['69091246-20e8-4a56-aa4d-066075b2a7a8', false], // Teams Administrator
]);

const PRIVILEGED_NAME_RE = /administrator|admin\b|directory writers|company administrator/i;
const TOP_NAME_RE = /^(global administrator|company administrator|privileged role administrator|privileged authentication administrator)$/i;

const ROLE_ADD_OPS = new Set([
  'add member to role.',
  'add eligible member to role.',
  'add member to role in pim completed (permanent)',
  'add member to role in pim completed (timebound)',
  'add eligible member to role in pim completed (permanent)',
  'add eligible member to role in pim completed (timebound)',
  'add scoped member to role.',
]);

/** "Add member to role." and its PIM variants → the role and whether it is privileged. */
export function roleAdd(rec: NormalizedRecord): RoleAdd | undefined {
  if (!ROLE_ADD_OPS.has(rec.operation.toLowerCase())) return undefined;
  const mp = rec.modifiedProperties;
  const role = clean(modified(mp, 'Role.DisplayName')?.newValue ?? '') || nv(rec.extendedProperties, 'RoleName');
  const templateId = clean(modified(mp, 'Role.TemplateId')?.newValue ?? '').toLowerCase();
  const wellKnown = clean(modified(mp, 'Role.WellKnownObjectName')?.newValue ?? '');
  const known = PRIVILEGED_TEMPLATES.get(templateId);
  const top = known === true || TOP_NAME_RE.test(role.trim()) || /^tenantadmins$/i.test(wellKnown);
  const privileged = top || known !== undefined || PRIVILEGED_NAME_RE.test(role);
  return { role: role || templateId || 'unknown role', templateId, member: targetUser(rec), privileged, top };
}

/** Service / system actors: `NT AUTHORITY\SYSTEM (…)`, well-known SIDs, app-only service principals. */
export function isServiceActor(rec: NormalizedRecord): boolean {
  const u = rec.userId.trim().toLowerCase();
  if (u.startsWith('nt authority\\') || u.startsWith('s-1-5-18') || u === 'system' || u.startsWith('servicePrincipal_'.toLowerCase())) return true;
  if (u.startsWith('app@') || u.startsWith('microsoft exchange') || u === 'exchange online') return true;
  // UserType 4 System (Exchange), 8 SystemPolicy
  return rec.userType === 4 || rec.userType === 8;
}
