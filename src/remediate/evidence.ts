// What an alert's evidence says the attacker left behind: inbox rule names and identities, forward
// destinations, transport rule names, application ids. Evidence is attacker-controlled data: walked with
// bounds, compared as plain strings (never turned into patterns), and never "everything" by default.

/** The alert as remediation needs it (loaded by alert-source.ts from the alerts tables). */
export interface RemediationAlert {
  id: string;
  tenantId: string;
  userId: string;
  behaviour: string;
  ruleId: string;
  severity: string;
  summary: string;
  status?: string;
  evidence: EvidenceItem[];
}

export interface EvidenceItem {
  recordId?: string;
  summary?: string;
  /** The detection's grouping target (rule name, destination address, app id …). */
  target?: string;
  facts?: Record<string, unknown>;
}

export interface Indicators {
  /** Lower-cased, trimmed inbox rule names. */
  ruleNames: Set<string>;
  /** Exchange RuleIdentity (decimal string) or Graph rule ids. */
  ruleIds: Set<string>;
  /** Lower-cased e-mail addresses the evidence forwards to. */
  addresses: Set<string>;
  transportRuleNames: Set<string>;
  /** Applications of consent alerts: the service principal object id (a grant's clientId) or the client app id. */
  appIds: Set<string>;
  /** Of those, the ones whose evidence says tenant-wide (admin) consent: their AllPrincipals grants are in scope. */
  adminConsentAppIds: Set<string>;
}

const RULE_NAME_KEYS = new Set(['rulename', 'inboxrulename', 'rule', 'name']);
const RULE_ID_KEYS = new Set(['ruleidentity', 'ruleid', 'inboxruleid', 'graphruleid']);
const ADDRESS_KEYS = new Set([
  'destination', 'destinations', 'externaldestination', 'externaldestinations', 'externalrecipients', 'recipients',
  'forwardto', 'forwardastattachmentto', 'forwardasattachmentto', 'redirectto', 'forwardingsmtpaddress', 'forwardingaddress',
  'resolvedforwardingaddress', 'address', 'addresses', 'targets', 'forwardtargets',
  // The rule pack's fact names (src/detect/facts): external ones only, so a colleague in an internal
  // recipient list never makes a benign rule look malicious.
  'inboxruleexternalrecipients', 'mailboxforwardingexternal', 'mailboxforwardingtargets', 'externaldestinations',
]);
const TRANSPORT_KEYS = new Set(['transportrule', 'transportrulename']);
const APP_KEYS = new Set(['appid', 'clientid', 'applicationid', 'consentedappid', 'consentappid']);

const MAX_DEPTH = 6;
const MAX_STRING = 1024;
const MAX_VALUES = 500;

const EMAIL = /^[^\s@"<>[\]]{1,200}@[A-Za-z0-9.-]{1,253}$/;

/** Pulls bare addresses out of Exchange/Graph recipient forms: `"Drop" [SMTP:x@y]`, `smtp:x@y`, `x@y; z@w`. */
export function addressesIn(value: string): string[] {
  if (value.length > MAX_STRING * 8) value = value.slice(0, MAX_STRING * 8);
  const out: string[] = [];
  for (const raw of value.split(/[;,\s]+/)) {
    let s = raw.trim().replace(/^[["'<(]+|[\]"'>)]+$/g, '');
    const colon = s.indexOf(':');
    if (colon > 0 && colon <= 4 && /^(smtp|ex|sip|x500)$/i.test(s.slice(0, colon))) s = s.slice(colon + 1);
    s = s.replace(/^[["'<(]+|[\]"'>)]+$/g, '');
    if (EMAIL.test(s)) out.push(s.toLowerCase());
  }
  return out;
}

/** The indicators of one or more alerts (the alert itself plus, optionally, the same user's open alerts). */
export function indicatorsOf(alerts: readonly RemediationAlert[]): Indicators {
  const ind: Indicators = { ruleNames: new Set(), ruleIds: new Set(), addresses: new Set(), transportRuleNames: new Set(), appIds: new Set(), adminConsentAppIds: new Set() };
  let budget = MAX_VALUES;
  const add = (set: Set<string>, v: string) => {
    if (budget-- > 0) set.add(v);
  };
  const take = (key: string, v: unknown, behaviour: string, depth: number): void => {
    if (depth > MAX_DEPTH || budget <= 0) return;
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 100)) take(key, x, behaviour, depth + 1);
      return;
    }
    if (v && typeof v === 'object') {
      // Recipient objects ({emailAddress:{address}}) and nested facts.
      for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 100)) {
        const kk = k.toLowerCase();
        take(kk === 'emailaddress' || kk === 'address' ? key : kk, x, behaviour, depth + 1);
      }
      return;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') return;
    const s = String(v).trim();
    if (!s || s.length > MAX_STRING) return;
    if (RULE_NAME_KEYS.has(key) && (key !== 'name' || behaviour.startsWith('inbox-rule'))) add(ind.ruleNames, s.toLowerCase());
    if (RULE_ID_KEYS.has(key)) add(ind.ruleIds, s);
    if (ADDRESS_KEYS.has(key)) for (const a of addressesIn(s)) add(ind.addresses, a);
    if (TRANSPORT_KEYS.has(key) || (key === 'name' && behaviour.startsWith('transport'))) add(ind.transportRuleNames, s.toLowerCase());
    // Only consent alerts name the app to revoke (a sign-in's appId is the client the attacker used, not a grant).
    if (APP_KEYS.has(key) && behaviour === 'illicit-consent') add(ind.appIds, s.toLowerCase());
  };
  for (const alert of alerts) {
    const behaviour = alert.behaviour;
    for (const ev of alert.evidence.slice(0, 200)) {
      if (ev.facts) take('', ev.facts, behaviour, 0);
      if (behaviour === 'illicit-consent' && isAdminConsent(ev.facts)) {
        for (const a of consentAppsOf(ev)) if (budget-- > 0) ind.adminConsentAppIds.add(a);
      }
      if (ev.target) {
        const t = ev.target.trim();
        if (t && t.length <= MAX_STRING) {
          const addrs = addressesIn(t);
          for (const a of addrs) add(ind.addresses, a);
          if (addrs.length === 0) {
            if (behaviour.startsWith('inbox-rule')) add(ind.ruleNames, t.toLowerCase());
            if (behaviour === 'transport-rule-external') add(ind.transportRuleNames, t.toLowerCase());
            if (behaviour === 'illicit-consent') add(ind.appIds, t.toLowerCase());
          }
        }
      }
    }
  }
  return ind;
}

/** The evidence item's own facts say tenant-wide consent (consentIsAdmin, IsAdminConsent or ConsentType AllPrincipals). */
function isAdminConsent(facts: Record<string, unknown> | undefined): boolean {
  if (!facts) return false;
  for (const [k, v] of Object.entries(facts).slice(0, 100)) {
    const kk = k.toLowerCase();
    if ((kk === 'consentisadmin' || kk === 'isadminconsent') && (v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true'))) return true;
    if (kk === 'consenttype' && typeof v === 'string' && v.trim().toLowerCase() === 'allprincipals') return true;
  }
  return false;
}

/** The applications one consent evidence item names (its target and top-level app id facts). */
function consentAppsOf(ev: EvidenceItem): string[] {
  const out: string[] = [];
  const t = ev.target?.trim();
  if (t && t.length <= MAX_STRING && addressesIn(t).length === 0) out.push(t.toLowerCase());
  for (const [k, v] of Object.entries(ev.facts ?? {}).slice(0, 100)) {
    if (APP_KEYS.has(k.toLowerCase()) && typeof v === 'string' && v.trim() && v.length <= MAX_STRING) out.push(v.trim().toLowerCase());
  }
  return out;
}

/** An inbox rule as Get-InboxRule returns it (the fields remediation looks at). */
export interface InboxRuleView {
  name: string;
  identity: string;
  ruleIdentity: string;
  enabled: boolean;
  hidden?: boolean;
  forwardTo: string[];
  forwardAsAttachmentTo: string[];
  redirectTo: string[];
  deleteMessage?: boolean;
  moveToFolder?: string | null;
}

/** Why a rule matches the evidence, or undefined when it does not (then it is left alone). */
export function matchRule(rule: InboxRuleView, ind: Indicators): string | undefined {
  if (ind.ruleIds.has(rule.ruleIdentity)) return `RuleIdentity ${rule.ruleIdentity} is in the evidence`;
  const name = rule.name.trim().toLowerCase();
  if (name && ind.ruleNames.has(name)) return `rule name "${rule.name}" is in the evidence`;
  for (const list of [rule.forwardTo, rule.forwardAsAttachmentTo, rule.redirectTo]) {
    for (const r of list) {
      for (const a of addressesIn(r)) if (ind.addresses.has(a)) return `forwards to ${a}, a destination in the evidence`;
    }
  }
  return undefined;
}

export function hasRuleIndicators(ind: Indicators): boolean {
  return ind.ruleNames.size + ind.ruleIds.size + ind.addresses.size > 0;
}
