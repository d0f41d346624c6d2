// Inbox-rule facts from New-InboxRule / Set-InboxRule parameters (OWA, PowerShell, Graph) and from
// Outlook desktop's UpdateInboxRules mailbox-audit records (OperationProperties: RuleActions /
// ServerRule as JSON strings; contents undocumented, see design/m365-api.md §3.3 — parse defensively).
import type { TenantContext } from '../../model.ts';
import { nv, type NameValue, type NormalizedRecord } from '../record.ts';
import { parseRecipients, parseSmtp, type Recipient } from './addresses.ts';

export type ForwardAction = 'ForwardTo' | 'ForwardAsAttachmentTo' | 'RedirectTo';

export interface InboxRuleFacts {
  source: 'cmdlet' | 'outlook';
  change: 'create' | 'modify' | 'remove';
  ruleName: string;
  /** Forward / forward-as-attachment / redirect actions with their recipients. */
  forwards: Array<{ action: ForwardAction; recipients: Recipient[] }>;
  /** Every forward target, de-duplicated. */
  recipients: Recipient[];
  /** DeleteMessage / SoftDeleteMessage / a delete action. */
  deletes: boolean;
  /** The folder mail is moved to ('' when none or not known). */
  moveToFolder: string;
  movesToDeletedItems: boolean;
  markAsRead: boolean;
  stopProcessing: boolean;
  /** Names of the conditions that limit the rule (From, SubjectContainsWords …). */
  conditions: string[];
  /** Names of the exceptions (ExceptIf…). */
  exceptions: string[];
  /** Words from keyword conditions (subject/body/from-address/header …), lower-cased. */
  conditionWords: string[];
  /** False when the record may not show every condition (Set-InboxRule carries only changed parameters). */
  conditionsComplete: boolean;
  /** Whether the rule is disabled by this record. */
  disabled: boolean;
}

const CONDITION_PARAMS = new Set(
  [
    'From', 'FromAddressContainsWords', 'SentTo', 'SubjectContainsWords', 'BodyContainsWords', 'SubjectOrBodyContainsWords',
    'HeaderContainsWords', 'RecipientAddressContainsWords', 'HasAttachment', 'HasClassification', 'FlaggedForAction',
    'FromSubscription', 'MessageTypeMatches', 'MyNameInCcBox', 'MyNameInToBox', 'MyNameInToOrCcBox', 'MyNameNotInToBox',
    'ReceivedAfterDate', 'ReceivedBeforeDate', 'SentOnlyToMe', 'WithImportance', 'WithinSizeRangeMaximum',
    'WithinSizeRangeMinimum', 'WithSensitivity',
  ].map((s) => s.toLowerCase()),
);

const WORD_PARAMS = new Set(
  ['SubjectContainsWords', 'BodyContainsWords', 'SubjectOrBodyContainsWords', 'HeaderContainsWords', 'FromAddressContainsWords', 'RecipientAddressContainsWords'].map(
    (s) => s.toLowerCase(),
  ),
);

const INBOX_RULE_CMDLETS = new Set(['new-inboxrule', 'set-inboxrule', 'remove-inboxrule', 'disable-inboxrule', 'enable-inboxrule']);

export function isInboxRuleOperation(op: string): boolean {
  const o = op.toLowerCase();
  return INBOX_RULE_CMDLETS.has(o) || o === 'updateinboxrules';
}

function truthy(v: string): boolean {
  const t = v.trim().toLowerCase();
  return t === 'true' || t === '$true' || t === '1' || t === 'yes';
}

/** The folder's own name from `RSS Feeds`, `:\RSS Feeds`, `user@x:\Inbox\Sub`, `\\Deleted Items`. */
export function folderLeaf(v: string): string {
  let s = v.trim();
  const i = Math.max(s.lastIndexOf('\\'), s.lastIndexOf('/'));
  if (i >= 0) s = s.slice(i + 1);
  return s.trim().toLowerCase();
}

const DELETED_FOLDERS = new Set([
  'deleted items', 'deleteditems', 'recoverable items', 'éléments supprimés', 'elements supprimes', 'gelöschte elemente',
  'elementos eliminados', 'posta eliminata', 'verwijderde items', 'itens excluídos', 'itens eliminados', 'borttagna objekt',
  'slettede elementer', 'usunięte elementy', 'удаленные', 'удалённые',
]);

const HIDING_FOLDERS = new Set([
  'rss feeds', 'rss subscriptions', 'rss', 'conversation history', 'archive', 'archives', 'junk email', 'junk e-mail', 'junk',
  'notes', 'sync issues', 'conflicts', 'local failures', 'server failures', 'outbox', 'flux rss', 'historique des conversations',
  'courrier indésirable', 'archivo', 'archiv', 'archivio', 'historial de conversaciones', 'correo no deseado', 'fuentes rss',
  'rss-feeds', 'junk-e-mail', 'unterhaltungsverlauf', 'rss-abonnements', 'rss subscription',
]);

export function isDeletedItemsFolder(folder: string): boolean {
  return DELETED_FOLDERS.has(folderLeaf(folder));
}

export function isHidingFolder(folder: string): boolean {
  const f = folderLeaf(folder);
  return HIDING_FOLDERS.has(f) || DELETED_FOLDERS.has(f);
}

function splitWords(v: string): string[] {
  const out: string[] = [];
  for (const w of v.slice(0, 4096).split(/[;,\r\n]+/)) {
    const t = w.trim().replace(/^["']+|["']+$/g, '').toLowerCase();
    if (t && out.length < 64) out.push(t.slice(0, 200));
  }
  return out;
}

/** Facts of an inbox-rule record, or undefined when the record is not about an inbox rule. */
export function inboxRuleFacts(rec: NormalizedRecord, ctx?: TenantContext): InboxRuleFacts | undefined {
  const op = rec.operation.toLowerCase();
  if (op === 'updateinboxrules') return outlookRuleFacts(rec.operationProperties, ctx);
  if (!INBOX_RULE_CMDLETS.has(op)) return undefined;
  return cmdletRuleFacts(op, rec.parameters, ctx);
}

/** New-InboxRule / Set-InboxRule parameters → facts. */
export function cmdletRuleFacts(op: string, params: readonly NameValue[], ctx?: TenantContext): InboxRuleFacts {
  const facts: InboxRuleFacts = {
    source: 'cmdlet',
    change: op === 'new-inboxrule' ? 'create' : op === 'remove-inboxrule' ? 'remove' : 'modify',
    ruleName: nv(params, 'Name') || nv(params, 'Identity') || '',
    forwards: [],
    recipients: [],
    deletes: false,
    moveToFolder: '',
    movesToDeletedItems: false,
    markAsRead: false,
    stopProcessing: false,
    conditions: [],
    exceptions: [],
    conditionWords: [],
    conditionsComplete: op === 'new-inboxrule',
    disabled: op === 'disable-inboxrule',
  };
  if (facts.change === 'remove') return facts;
  // Identity of Set-InboxRule may be "mailbox\rule name".
  if (!nv(params, 'Name') && facts.ruleName.includes('\\')) facts.ruleName = facts.ruleName.slice(facts.ruleName.lastIndexOf('\\') + 1);
  for (const p of params) {
    const name = p.name.toLowerCase();
    const value = p.value;
    switch (name) {
      case 'forwardto':
      case 'forwardasattachmentto':
      case 'redirectto': {
        const recipients = parseRecipients(value, ctx);
        if (recipients.length > 0) {
          const action: ForwardAction = name === 'forwardto' ? 'ForwardTo' : name === 'redirectto' ? 'RedirectTo' : 'ForwardAsAttachmentTo';
          facts.forwards.push({ action, recipients });
        }
        break;
      }
      case 'deletemessage':
      case 'softdeletemessage':
      case 'permanentdelete':
        if (truthy(value)) facts.deletes = true;
        break;
      case 'movetofolder':
        if (value.trim()) {
          facts.moveToFolder = value.trim().slice(0, 256);
          if (isDeletedItemsFolder(value)) facts.movesToDeletedItems = true;
        }
        break;
      case 'markasread':
        if (truthy(value)) facts.markAsRead = true;
        break;
      case 'stopprocessingrules':
        if (truthy(value)) facts.stopProcessing = true;
        break;
      case 'enabled':
        if (value.trim().toLowerCase() === 'false') facts.disabled = true;
        break;
      default:
        if (CONDITION_PARAMS.has(name)) {
          if (value.trim() !== '' && value.trim().toLowerCase() !== 'false') {
            facts.conditions.push(p.name);
            if (WORD_PARAMS.has(name)) facts.conditionWords.push(...splitWords(value));
          }
        } else if (name.startsWith('exceptif') && value.trim() !== '' && value.trim().toLowerCase() !== 'false') {
          facts.exceptions.push(p.name);
        }
    }
  }
  facts.recipients = dedupe(facts.forwards.flatMap((f) => f.recipients));
  return facts;
}

function dedupe(rs: Recipient[]): Recipient[] {
  const seen = new Set<string>();
  const out: Recipient[] = [];
  for (const r of rs) {
    const k = r.address ?? r.raw.toLowerCase();
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/** Parses a JSON string defensively; undefined when it is not JSON. */
function tryJson(s: string): unknown {
  const t = s.trim();
  if (!t || (t[0] !== '[' && t[0] !== '{')) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

type ActionKind = 'forward' | 'forwardAsAttachment' | 'redirect' | 'delete' | 'move' | 'markRead' | 'stop' | 'other';

/** An Outlook/MAPI/EWS action name → its kind (ForwardToRecipientsAction, OP_FORWARD, Redirect, Delete …). */
export function actionKind(name: string): ActionKind {
  const n = name.toLowerCase().replace(/[^a-z]/g, '');
  if (n.includes('attachment')) return 'forwardAsAttachment';
  if (n.includes('redirect') || n.includes('delegate') || n.includes('bounce')) return 'redirect';
  if (n.includes('forward')) return 'forward';
  if (n.includes('delete')) return 'delete';
  if (n.includes('markasread') || n.includes('markread')) return 'markRead';
  if (n.includes('move')) return 'move';
  if (n.includes('stop') || n.includes('exit')) return 'stop';
  return 'other';
}

const ACTION_NAME_KEYS = ['ActionType', 'actionType', 'Type', 'type', 'Action', 'action', 'Name', 'name', '$type', 'OperationType'];

interface Walk {
  nodes: number;
}

/** Strings beneath a JSON value (bounded walk). */
function leaves(v: unknown, out: string[], w: Walk, depth = 0): void {
  if (w.nodes++ > 4000 || depth > 12 || out.length > 256) return;
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) leaves(x, out, w, depth + 1);
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) leaves((v as Record<string, unknown>)[k], out, w, depth + 1);
}

// MAPI ACTTYPE values (MS-OXORULE 2.2.5.1.1), when an action type is logged as a number.
const MAPI_ACTION_TYPES: Record<number, string> = { 1: 'Move', 2: 'Copy', 6: 'Redirect', 7: 'Forward', 8: 'Redirect', 10: 'Delete', 11: 'MarkAsRead' };

function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (!a || typeof a !== 'object') return '';
  for (const k of ACTION_NAME_KEYS) {
    const v = (a as Record<string, unknown>)[k];
    if (typeof v === 'string' && v) return /^\d+$/.test(v) ? (MAPI_ACTION_TYPES[Number(v)] ?? v) : v;
    if (typeof v === 'number') return MAPI_ACTION_TYPES[v] ?? '';
  }
  return '';
}

function addressesIn(strings: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of strings) {
    if (s.length > 2048) continue;
    const t = s.trim();
    if (/^(ex|x500):\/o=|^\/o=/i.test(t)) out.push(t);
    else if (t.includes('@')) {
      for (const part of t.split(/[;,\s]+/)) if (parseSmtp(part.replace(/^\[|\]$/g, ''))) out.push(part.replace(/^\[|\]$/g, ''));
    }
  }
  return out;
}

function emptyCondition(v: string): boolean {
  const t = v.replace(/[\s{}()[\]]/g, '').toLowerCase();
  return t === '' || t === 'null' || t === 'none' || t === 'true';
}

/** UpdateInboxRules OperationProperties → facts (RuleActions / ServerRule JSON, action names, RuleCondition text). */
export function outlookRuleFacts(props: readonly NameValue[], ctx?: TenantContext): InboxRuleFacts {
  const operation = nv(props, 'RuleOperation').toLowerCase();
  const state = nv(props, 'RuleState');
  const facts: InboxRuleFacts = {
    source: 'outlook',
    change: operation.includes('remove') || operation.includes('delete') ? 'remove' : operation.includes('add') || operation.includes('create') ? 'create' : 'modify',
    ruleName: nv(props, 'RuleName'),
    forwards: [],
    recipients: [],
    deletes: false,
    moveToFolder: '',
    movesToDeletedItems: false,
    markAsRead: false,
    stopProcessing: /exitafterexecution|stopprocessing/i.test(state),
    conditions: [],
    exceptions: [],
    conditionWords: [],
    conditionsComplete: false,
    disabled: /disabled/i.test(state) && !/\benabled\b/i.test(state.replace(/disabled/gi, '')),
  };
  if (facts.change === 'remove') return facts;
  const actionTexts: string[] = [];
  const conditionTexts: string[] = [];
  const ruleCondition = props.find((p) => p.name.toLowerCase() === 'rulecondition');
  if (ruleCondition) conditionTexts.push(ruleCondition.value);
  for (const p of props) {
    const name = p.name.toLowerCase();
    if (name === 'ruleactions' || name === 'serverrule' || name === 'actions') actionTexts.push(p.value);
  }
  const actions: unknown[] = [];
  for (const text of actionTexts) {
    const parsed = tryJson(text);
    if (parsed === undefined) {
      // Not JSON: scan the text for action names and addresses.
      actions.push({ __text: text });
      continue;
    }
    const list = Array.isArray(parsed)
      ? parsed
      : parsed && typeof parsed === 'object'
        ? (((parsed as Record<string, unknown>).Actions ?? (parsed as Record<string, unknown>).actions) as unknown)
        : undefined;
    if (Array.isArray(list)) actions.push(...list.slice(0, 64));
    else if (parsed && typeof parsed === 'object') actions.push(parsed);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const cond = (parsed as Record<string, unknown>).Condition ?? (parsed as Record<string, unknown>).Conditions;
      if (typeof cond === 'string') conditionTexts.push(cond);
      else if (cond && typeof cond === 'object') conditionTexts.push(JSON.stringify(cond).slice(0, 4096));
    }
  }
  const forwardMap = new Map<ForwardAction, Recipient[]>();
  for (const a of actions) {
    const text = a && typeof a === 'object' && '__text' in a ? String((a as { __text: string }).__text) : undefined;
    const kinds: ActionKind[] = [];
    if (text !== undefined) {
      for (const word of text.slice(0, 16384).split(/[^A-Za-z_]+/)) {
        const k = actionKind(word);
        if (word.length > 3 && k !== 'other' && !kinds.includes(k)) kinds.push(k);
      }
    } else kinds.push(actionKind(actionName(a)));
    const strings: string[] = [];
    if (text !== undefined) strings.push(...text.slice(0, 16384).split(/["\s,;[\]{}]+/));
    else leaves(a, strings, { nodes: 0 });
    for (const kind of kinds) {
      if (kind === 'forward' || kind === 'forwardAsAttachment' || kind === 'redirect') {
        const action: ForwardAction = kind === 'forward' ? 'ForwardTo' : kind === 'redirect' ? 'RedirectTo' : 'ForwardAsAttachmentTo';
        const rs = parseRecipients(addressesIn(strings), ctx);
        if (rs.length > 0) forwardMap.set(action, [...(forwardMap.get(action) ?? []), ...rs]);
      } else if (kind === 'delete') facts.deletes = true;
      else if (kind === 'markRead') facts.markAsRead = true;
      else if (kind === 'stop') facts.stopProcessing = true;
      else if (kind === 'move') {
        for (const s of strings) {
          if (s.length < 100 && isHidingFolder(s)) {
            facts.moveToFolder = s.trim();
            if (isDeletedItemsFolder(s)) facts.movesToDeletedItems = true;
            break;
          }
        }
      }
    }
  }
  for (const [action, recipients] of forwardMap) facts.forwards.push({ action, recipients: dedupe(recipients) });
  facts.recipients = dedupe(facts.forwards.flatMap((f) => f.recipients));
  const condText = conditionTexts.join(' ');
  if (conditionTexts.length > 0 && !emptyCondition(condText)) {
    facts.conditions.push('RuleCondition');
    // `{((Subject Contains 'invoice'))}`: quoted words are the keywords.
    const re = /'([^']{1,200})'|"([^"]{1,200})"/g;
    let m: RegExpExecArray | null;
    const words: string[] = [];
    while ((m = re.exec(condText.slice(0, 8192))) !== null && words.length < 64) words.push((m[1] ?? m[2]).toLowerCase());
    facts.conditionWords = words;
  }
  facts.conditionsComplete = facts.change === 'create' && conditionTexts.length > 0;
  return facts;
}

export const SUSPICIOUS_KEYWORDS = [
  'invoice', 'payment', 'wire', 'bank', 'payroll', 'hacked', 'phish', 'compromise', 'helpdesk', 'help desk', 'password',
  'security', 'fraud', 'scam', 'suspicious', 'virus', 'malware', 'transfer', 'remittance', 'iban', 'swift', 'ach',
  'w2', 'w-2', 'direct deposit', 'docusign', 'factura', 'facture', 'rechnung', 'fattura', 'pago', 'paiement', 'virement',
  'banco', 'banque', 'nómina', 'nomina', 'transferencia', 'overschrijving', 'zahlung', 'it support', 'unusual sign',
];

/** The suspicious keywords found in condition words (each a substring check on bounded words). */
export function suspiciousKeywords(words: readonly string[]): string[] {
  const found: string[] = [];
  for (const w of words) {
    for (const k of SUSPICIOUS_KEYWORDS) {
      if (found.includes(k)) continue;
      if (k.length <= 3 ? w === k || w.split(/[^a-z0-9-]+/).includes(k) : w.includes(k)) found.push(k);
    }
  }
  return found;
}

const SECURITY_KEYWORDS = new Set(['hacked', 'phish', 'compromise', 'suspicious', 'virus', 'malware', 'fraud', 'scam', 'helpdesk', 'help desk', 'it support', 'unusual sign']);
const ARCHIVE_FOLDERS = new Set(['archive', 'archives', 'archivo', 'archiv', 'archivio']);

export interface HidingScore {
  score: number;
  signals: string[];
}

/** Rule name is empty, symbols only ('.', '..', '-') or tiny ('x', 'ac'). */
export function throwawayName(name: string): 'symbols' | 'tiny' | undefined {
  const t = name.trim();
  if (!/[\p{L}\p{N}]/u.test(t)) return 'symbols';
  if (t.length <= 2) return 'tiny';
  return undefined;
}

/**
 * Scores the ways a rule hides mail from its owner: a hiding folder (RSS, Conversation History,
 * Archive, Junk, Deleted Items) 2, mark-as-read 1, stop-processing 1, symbol-only name 2 / tiny name 1,
 * suspicious keyword conditions 2 (security words such as hacked/phish/compromised 3), delete 1,
 * forwarding 1. No single signal reaches the alert threshold (4) alone.
 */
export function hidingScore(f: InboxRuleFacts): HidingScore {
  const signals: string[] = [];
  let score = 0;
  if (f.moveToFolder && isHidingFolder(f.moveToFolder)) {
    const leaf = folderLeaf(f.moveToFolder);
    // Archive is an everyday destination: a weaker signal than RSS / Conversation History.
    score += ARCHIVE_FOLDERS.has(leaf) ? 1 : 2;
    signals.push(`moves to ${leaf}`);
  }
  if (f.markAsRead) {
    score += 1;
    signals.push('marks as read');
  }
  if (f.stopProcessing) {
    score += 1;
    signals.push('stops processing rules');
  }
  const tn = f.change === 'create' || f.source === 'outlook' || f.ruleName ? throwawayName(f.ruleName) : undefined;
  if (tn === 'symbols') {
    score += 2;
    signals.push('symbol-only name');
  } else if (tn === 'tiny') {
    score += 1;
    signals.push('tiny name');
  }
  const kw = suspiciousKeywords(f.conditionWords);
  if (kw.length > 0) {
    const security = kw.some((k) => SECURITY_KEYWORDS.has(k));
    score += security ? 3 : 2;
    signals.push(`keywords: ${kw.slice(0, 5).join(', ')}`);
  }
  if (f.deletes) {
    score += 1;
    signals.push('deletes');
  }
  if (f.forwards.length > 0) {
    score += 1;
    signals.push('forwards');
  }
  return { score, signals };
}

/** A rule that deletes (or moves to Deleted Items) with no condition limiting it. */
export function deletesAll(f: InboxRuleFacts): boolean {
  return (f.deletes || f.movesToDeletedItems) && f.conditions.length === 0 && !f.disabled && f.change !== 'remove';
}
