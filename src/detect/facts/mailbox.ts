// Mailbox-level facts: Set-Mailbox forwarding, mailbox / folder permission grants, transport-rule recipients.
import type { TenantContext } from '../../model.ts';
import { nv, hasName, type NormalizedRecord } from '../record.ts';
import { parseRecipients, type Recipient } from './addresses.ts';

export interface MailboxForwarding {
  /** The mailbox whose forwarding changed (Identity or ObjectId). */
  mailbox: string;
  /** Resolved targets (ForwardingSmtpAddress and/or ForwardingAddress). */
  targets: Recipient[];
  /** True when the record clears forwarding (empty / $null values) and sets nothing. */
  cleared: boolean;
  /** DeliverToMailboxAndForward as given: true keeps a copy, false does not, undefined not in the record. */
  keepsCopy: boolean | undefined;
}

const SET_MAILBOX = new Set(['set-mailbox', 'set-remotemailbox', 'set-mailuser']);

/**
 * Set-Mailbox forwarding: ForwardingSmtpAddress (any SMTP address, often logged as `smtp:x@y`) and
 * ForwardingAddress (an internal recipient — name, alias, DN or address — resolved through the tenant's
 * recipients: a mail contact points outside). Undefined when the record does not touch forwarding.
 */
export function mailboxForwarding(rec: NormalizedRecord, ctx?: TenantContext): MailboxForwarding | undefined {
  if (!SET_MAILBOX.has(rec.operation.toLowerCase())) return undefined;
  const p = rec.parameters;
  const hasSmtp = hasName(p, 'ForwardingSmtpAddress');
  const hasAddr = hasName(p, 'ForwardingAddress');
  if (!hasSmtp && !hasAddr) return undefined;
  const values: string[] = [];
  const smtp = clean(nv(p, 'ForwardingSmtpAddress'));
  const addr = clean(nv(p, 'ForwardingAddress'));
  if (smtp) values.push(smtp);
  if (addr) values.push(addr);
  const deliver = nv(p, 'DeliverToMailboxAndForward').trim().toLowerCase();
  return {
    mailbox: nv(p, 'Identity') || rec.objectId,
    targets: parseRecipients(values, ctx),
    cleared: values.length === 0,
    keepsCopy: deliver === 'true' || deliver === '$true' ? true : deliver === 'false' || deliver === '$false' ? false : undefined,
  };
}

function clean(v: string): string {
  const t = v.trim();
  return t === '$null' || t.toLowerCase() === 'null' ? '' : t;
}

export type GrantKind = 'FullAccess' | 'SendAs' | 'SendOnBehalf' | 'FolderPermission';

export interface PermissionGrant {
  kind: GrantKind;
  /** The mailbox (or folder path) the permission is on. */
  mailbox: string;
  /** Who receives it. */
  trustee: string;
  rights: string;
  /** Folder name for folder permissions ('inbox', '' for the mailbox root …). */
  folder?: string;
  /** The actor grants access to their own mailbox. */
  bySelf: boolean;
  /** The trustee is Default/Anonymous (everyone). */
  everyone: boolean;
}

const FOLDER_OPS = new Set(['add-mailboxfolderpermission', 'set-mailboxfolderpermission', 'addfolderpermissions', 'modifyfolderpermissions', 'updatefolderpermissions']);
const NO_ACCESS = new Set(['none', 'availabilityonly', 'limiteddetails', '']);
const SENSITIVE_FOLDERS = new Set(['inbox', '', 'top of information store', 'sent items', 'posteingang', 'boîte de réception', 'bandeja de entrada', 'posta in arrivo']);

function sameUser(a: string, b: string): boolean {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  return !!x && !!y && (x === y || x.split('@')[0] === y || y.split('@')[0] === x);
}

/**
 * A mailbox or Inbox-folder permission grant: Add-MailboxPermission (FullAccess), Add-RecipientPermission
 * (SendAs), Set-Mailbox GrantSendOnBehalfTo, Add/Set-MailboxFolderPermission on the Inbox or the mailbox root.
 * Calendar and other folder delegations are not grants in this sense.
 */
export function permissionGrant(rec: NormalizedRecord): PermissionGrant | undefined {
  const op = rec.operation.toLowerCase();
  const p = rec.parameters;
  const actor = rec.userId;
  if (op === 'add-mailboxpermission') {
    const rights = nv(p, 'AccessRights');
    if (!/fullaccess|readpermission|changeowner|changepermission/i.test(rights)) return undefined;
    const mailbox = nv(p, 'Identity') || rec.objectId;
    const trustee = nv(p, 'User') || nv(p, 'Trustee');
    if (!trustee || /^nt authority\\self$/i.test(trustee.trim()) || sameUser(trustee, mailbox)) return undefined;
    return { kind: 'FullAccess', mailbox, trustee, rights, bySelf: sameUser(actor, mailbox), everyone: isEveryone(trustee) };
  }
  if (op === 'add-recipientpermission' || op === 'add-adpermission') {
    const rights = nv(p, 'AccessRights') || nv(p, 'ExtendedRights');
    if (!/sendas|send-as/i.test(rights)) return undefined;
    const mailbox = nv(p, 'Identity') || rec.objectId;
    const trustee = nv(p, 'Trustee') || nv(p, 'User');
    if (!trustee || /^nt authority\\self$/i.test(trustee.trim()) || sameUser(trustee, mailbox)) return undefined;
    return { kind: 'SendAs', mailbox, trustee, rights, bySelf: sameUser(actor, mailbox), everyone: isEveryone(trustee) };
  }
  if (SET_MAILBOX.has(op) && hasName(p, 'GrantSendOnBehalfTo')) {
    const v = nv(p, 'GrantSendOnBehalfTo').trim();
    if (!v || v === '$null' || /^@\{\s*remove\s*=/i.test(v)) return undefined;
    const trustee = v.replace(/^@\{\s*add\s*=\s*/i, '').replace(/\}\s*$/, '').replace(/^["']|["']$/g, '');
    const mailbox = nv(p, 'Identity') || rec.objectId;
    return { kind: 'SendOnBehalf', mailbox, trustee, rights: 'SendOnBehalf', bySelf: sameUser(actor, mailbox), everyone: isEveryone(trustee) };
  }
  if (FOLDER_OPS.has(op)) {
    const identity = nv(p, 'Identity') || rec.objectId;
    const rights = nv(p, 'AccessRights') || nv(rec.operationProperties, 'AccessRights') || nv(rec.operationProperties, 'MemberRights');
    if (NO_ACCESS.has(rights.trim().toLowerCase())) return undefined;
    const colon = identity.lastIndexOf(':');
    const folderPath = colon >= 0 ? identity.slice(colon + 1) : '';
    const folder = folderPath.replace(/^[\\/]+/, '').trim().toLowerCase();
    if (!SENSITIVE_FOLDERS.has(folder) && !folder.startsWith('inbox\\') && !folder.startsWith('inbox/')) return undefined;
    const mailbox = colon >= 0 ? identity.slice(0, colon) : identity;
    const trustee = nv(p, 'User') || nv(rec.operationProperties, 'MemberUpn') || nv(rec.operationProperties, 'Member');
    if (!trustee || sameUser(trustee, mailbox)) return undefined;
    return { kind: 'FolderPermission', mailbox, trustee, rights, folder: folder || 'mailbox root', bySelf: sameUser(actor, mailbox) || sameUser(actor, rec.mailboxOwnerUpn), everyone: isEveryone(trustee) };
  }
  return undefined;
}

function isEveryone(trustee: string): boolean {
  const t = trustee.trim().toLowerCase();
  return t === 'default' || t === 'anonymous' || t === 'everyone' || t === 'all users';
}

const TRANSPORT_RECIPIENT_PARAMS = ['BlindCopyTo', 'CopyTo', 'RedirectMessageTo', 'AddToRecipients', 'GenerateIncidentReport', 'AddManagerAsRecipientType'];

export interface TransportRuleRecipients {
  ruleName: string;
  /** Parameter → recipients it names. */
  actions: Array<{ action: string; recipients: Recipient[] }>;
  recipients: Recipient[];
}

/** New-/Set-TransportRule actions that copy, BCC, redirect or add recipients. */
export function transportRuleRecipients(rec: NormalizedRecord, ctx?: TenantContext): TransportRuleRecipients | undefined {
  const op = rec.operation.toLowerCase();
  if (op !== 'new-transportrule' && op !== 'set-transportrule') return undefined;
  const p = rec.parameters;
  const actions: TransportRuleRecipients['actions'] = [];
  for (const name of TRANSPORT_RECIPIENT_PARAMS) {
    if (name === 'AddManagerAsRecipientType') continue;
    const v = nv(p, name);
    if (!v.trim()) continue;
    const recipients = parseRecipients(v, ctx);
    if (recipients.length > 0) actions.push({ action: name, recipients });
  }
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const a of actions)
    for (const r of a.recipients) {
      const k = r.address ?? r.raw.toLowerCase();
      if (!seen.has(k)) {
        seen.add(k);
        recipients.push(r);
      }
    }
  return { ruleName: nv(p, 'Name') || nv(p, 'Identity') || rec.objectId, actions, recipients };
}
