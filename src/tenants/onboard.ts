// Onboarding and health: per tenant, one result per check (token/consent, directory, accepted domains, recipients,
// unified audit log, Management API subscriptions). Onboarding may change things (turn the audit log on with
// --enable-audit, start subscriptions); health only reads. One tenant failing never stops the others.
import type { Config } from '../config.ts';
import { isOperatorError } from '../errors.ts';
import { silentLogger, scrub, type Logger } from '../log.ts';
import type { KnownRecipient } from '../model.ts';
import type { M365Clients } from '../m365/clients.ts';
import { isM365Error, type M365Error } from '../m365/m365-error.ts';
import { consentUrl, type TokenResource } from '../m365/token.ts';
import { WEBHOOK_PATH } from '../ingest/webhook.ts';
import type { Db } from '../store/db.ts';
import { nowIso } from '../store/db.ts';
import { readIngestStatus, type IngestStatus } from './ingest-status.ts';
import { addTenant, saveContext, saveHealth, type CheckResult, type StoredContext, type TenantRecord } from './registry.ts';

export const CHECKS = ['token', 'directory', 'acceptedDomains', 'recipients', 'auditLog', 'subscriptions'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface TenantReport {
  tenantId: string;
  name: string;
  healthy: boolean;
  checks: Record<CheckName, CheckResult>;
  /** Health only: what the poller says (omitted when ingest has no data for the tenant). */
  ingest?: IngestStatus;
}

export interface TenantDeps {
  db: Db;
  config: Readonly<Config>;
  clients: M365Clients;
  logger?: Logger;
  now?: () => Date;
}

export interface CheckOptions {
  /** 'onboard' may change the tenant (audit log with enableAudit, subscriptions); 'health' only reads. */
  mode: 'onboard' | 'health';
  enableAudit?: boolean;
  /** How many tenants at once (default 4). */
  concurrency?: number;
}

const MAX_RECIPIENTS = 50_000;

/** A table-sized reason for a Microsoft failure; the Microsoft code in brackets. */
export function shortReason(e: M365Error): string {
  const what = (() => {
    switch (e.code) {
      case 'TW_M365_CONSENT_MISSING':
        return 'admin consent missing';
      case 'TW_M365_AUDIT_DISABLED':
        return 'audit log off';
      case 'TW_M365_THROTTLED':
        return `throttled${e.status ? ` (HTTP ${e.status})` : ''}`;
      case 'TW_M365_UPSTREAM_FAILED':
        return `Microsoft failed (HTTP ${e.status ?? '?'})`;
      case 'TW_M365_PERMISSION_MISSING':
        return `permission missing (HTTP ${e.status ?? '?'})`;
      case 'TW_M365_TENANT_NOT_FOUND':
        return 'tenant not found';
      case 'TW_M365_CREDENTIAL_REFUSED':
        return 'app credential refused';
      case 'TW_M365_NOT_FOUND':
        return 'not found';
      default:
        return e.upstreamMessage ?? e.message;
    }
  })();
  const code = e.upstreamCode && e.upstreamCode.length <= 64 ? e.upstreamCode : undefined;
  return code ? `${what} [${code}]` : what;
}

function fail(e: unknown, fallbackFix?: string): CheckResult {
  if (isM365Error(e)) {
    return { ok: false, reason: scrub(shortReason(e)), fix: e.fix ?? fallbackFix ?? e.hint, ...(e.upstreamCode ? { upstreamCode: e.upstreamCode.slice(0, 200) } : {}) };
  }
  if (isOperatorError(e)) return { ok: false, reason: scrub(e.message), fix: fallbackFix ?? e.hint };
  return { ok: false, reason: scrub(`unexpected error: ${(e as Error)?.message ?? String(e)}`.slice(0, 300)), fix: 'see the log; this is a bug if it persists' };
}

const skipped = (why: string): CheckResult => ({ ok: false, reason: `skipped: ${why}` });

function stripSmtp(s: string | null | undefined): string {
  return (s ?? '').replace(/^smtp:/i, '').trim().toLowerCase();
}

/** Exchange recipients → the context's known recipients (contacts resolve to their external address). */
export function toKnownRecipients(list: Array<{ identity: string; recipientTypeDetails: string; primarySmtpAddress: string; externalEmailAddress: string | null }>): KnownRecipient[] {
  const out: KnownRecipient[] = [];
  for (const r of list.slice(0, MAX_RECIPIENTS)) {
    const address = stripSmtp(r.externalEmailAddress) || stripSmtp(r.primarySmtpAddress);
    if (!address) continue;
    out.push({ identity: r.identity.slice(0, 256), address: address.slice(0, 320), type: r.recipientTypeDetails.slice(0, 64) || 'Recipient' });
  }
  return out;
}

function webhookFor(config: Readonly<Config>): { address: string; authId: string } | undefined {
  const w = config.ingest.webhook;
  if (!w.enabled || !w.authId || !config.web.publicUrl) return undefined;
  return { address: `${config.web.publicUrl.replace(/\/+$/, '')}${WEBHOOK_PATH}`, authId: w.authId };
}

/** Runs every check for one tenant; never throws for Microsoft-side failures. Saves context and health. */
export async function checkTenant(deps: TenantDeps, tenant: TenantRecord, opts: CheckOptions): Promise<TenantReport> {
  const { db, config, clients } = deps;
  const logger = deps.logger ?? silentLogger();
  const id = tenant.tenantId;
  const checks = {} as Record<CheckName, CheckResult>;
  let name = tenant.name;

  // 1. Tokens for every resource we use: a missing admin consent shows up here as AADSTS700016.
  let tokenError: CheckResult | undefined;
  for (const resource of ['graph', 'exchange', 'management'] as TokenResource[]) {
    try {
      await clients.tokens.getToken(id, resource);
    } catch (e) {
      tokenError = fail(e, isM365Error(e) && e.code === 'TW_M365_CONSENT_MISSING' ? `admin consent missing: open ${consentUrl(config, id)}` : undefined);
      break;
    }
  }
  checks.token = tokenError ?? { ok: true, reason: 'app-only tokens issued (consent present)' };

  if (tokenError) {
    for (const c of CHECKS) if (c !== 'token') checks[c] = skipped('no token');
    // Accepted domains cannot be confirmed: the context becomes unknown (hand-imported domains excepted).
    const prev = tenant.context;
    if (prev && prev.source !== 'import' && prev.known) {
      await saveContext(db, id, { ...prev, known: false, error: tokenError.reason }, nowIso(deps.now?.()));
    }
  } else {
    // 2. Directory: organization and verified domains (Graph). A role-less token (consent without permissions) fails here.
    try {
      const org = await clients.graph.organization(id);
      const domains = await clients.graph.domains(id);
      const verified = domains.filter((d) => d.isVerified);
      const defaultDomain = domains.find((d) => d.isDefault)?.id ?? org.verifiedDomains.find((d) => d.isDefault)?.name ?? null;
      if (org.displayName) name = org.displayName;
      await addTenant(db, { tenantId: id, name, defaultDomain, source: tenant.source as 'manual' });
      checks.directory = { ok: true, reason: `${verified.length} verified domain(s)${defaultDomain ? `, default ${defaultDomain}` : ''}` };
    } catch (e) {
      checks.directory = fail(e);
    }

    // 3. Accepted domains (Exchange, with MatchSubDomains): what "internal" means. Failure = unknown, never guessed.
    const previous = tenant.context;
    const ctx: StoredContext = {
      acceptedDomains: previous?.acceptedDomains ?? [],
      recipients: previous?.recipients ?? [],
      trustedIps: previous?.trustedIps ?? [],
      exclusions: previous?.exclusions ?? [],
      known: false,
      source: 'exchange',
    };
    try {
      const accepted = await clients.exchange.getAcceptedDomains(id);
      if (accepted.length === 0) throw new Error('Exchange lists no accepted domains');
      ctx.acceptedDomains = accepted.map((d) => ({ domain: d.domainName, matchSubdomains: d.matchSubDomains }));
      ctx.known = true;
      const sub = accepted.filter((d) => d.matchSubDomains).length;
      checks.acceptedDomains = { ok: true, reason: `${accepted.length} accepted domain(s)${sub ? `, ${sub} with subdomains` : ''}` };
    } catch (e) {
      checks.acceptedDomains = fail(e, 'grant Exchange.ManageAsApp and the Exchange Administrator role (docs/onboarding.md), then run `tenantwatch tenants onboard` again');
      ctx.error = checks.acceptedDomains.reason;
      // Domains the operator imported by hand stay trusted; anything else is unknown, never guessed.
      ctx.known = previous?.source === 'import' && previous.known === true && ctx.acceptedDomains.length > 0;
      if (ctx.known) ctx.source = 'import';
    }

    // 4. Recipients forwarding can point at (mail contacts, mail users, shared mailboxes …).
    try {
      const recipients = toKnownRecipients(await clients.exchange.listRecipients(id));
      ctx.recipients = recipients;
      const contacts = recipients.filter((r) => /MailContact|MailUser/i.test(r.type)).length;
      checks.recipients = { ok: true, reason: `${recipients.length} recipient(s), ${contacts} external contact(s)` };
    } catch (e) {
      checks.recipients = fail(e);
    }
    await saveContext(db, id, ctx, nowIso(deps.now?.()));

    // 5. Unified audit log ingestion (Exchange): without it the Management API has nothing to give.
    let auditOn = false;
    let auditJustEnabled = false;
    try {
      const cfg = await clients.exchange.getAdminAuditLogConfig(id);
      if (cfg.unifiedAuditLogIngestionEnabled) {
        auditOn = true;
        checks.auditLog = { ok: true, reason: 'unified audit log on' };
      } else if (opts.mode === 'onboard' && opts.enableAudit) {
        // Set-AdminAuditLogConfig takes up to 60 minutes to apply. https://learn.microsoft.com/purview/audit-log-enable-disable
        await clients.exchange.setAdminAuditLogConfig(id, true);
        auditOn = true;
        auditJustEnabled = true;
        checks.auditLog = { ok: true, reason: 'turned on now (Microsoft takes up to 60 minutes)' };
      } else {
        checks.auditLog = { ok: false, reason: 'unified audit log is off', fix: `run \`tenantwatch tenants onboard ${id} --enable-audit\`` };
      }
    } catch (e) {
      checks.auditLog = fail(e);
    }

    // 6. Management Activity API subscriptions for the configured content types.
    const wanted = config.microsoft.contentTypes;
    try {
      let subs = await clients.management.listSubscriptions(id);
      const enabled = (ct: string) => subs.some((s) => s.contentType === ct && s.status === 'enabled');
      let started = 0;
      if (opts.mode === 'onboard') {
        const webhook = webhookFor(config);
        for (const ct of wanted) {
          if (enabled(ct)) continue;
          // Leave time between start requests in production (Microsoft asks for 15 minutes per tenant); onboarding
          // starts each missing type once and start is idempotent (AF20024 = already enabled).
          const r = await clients.management.startSubscription(id, ct, webhook ?? undefined);
          if (r.changed) started++;
        }
        if (started) subs = await clients.management.listSubscriptions(id);
      }
      const missing = wanted.filter((ct) => !enabled(ct));
      checks.subscriptions = missing.length
        ? { ok: false, reason: `not enabled: ${missing.join(', ')}`, fix: `run \`tenantwatch tenants onboard ${id}\`` }
        : { ok: true, reason: `${wanted.length}/${wanted.length} enabled${started ? ` (${started} started now)` : ''}` };
    } catch (e) {
      checks.subscriptions = auditJustEnabled
        ? { ...fail(e), fix: `the audit log was just turned on; run \`tenantwatch tenants onboard ${id}\` again in an hour` }
        : fail(e, auditOn ? undefined : `turn the audit log on: \`tenantwatch tenants onboard ${id} --enable-audit\``);
    }
  }

  const report: TenantReport = { tenantId: id, name, healthy: CHECKS.every((c) => checks[c].ok), checks };
  if (opts.mode === 'health') {
    const ingest = await readIngestStatus(db, id, deps.now?.() ?? new Date());
    if (ingest) report.ingest = ingest;
  }
  await saveHealth(db, id, { healthy: report.healthy, checks }, nowIso(deps.now?.()));
  logger.info({ tenantId: id, healthy: report.healthy, failed: CHECKS.filter((c) => !checks[c].ok) }, `tenant ${opts.mode}`);
  return report;
}

/** Checks many tenants, a few at a time; results in input order. A tenant that throws still gets its row. */
export async function checkTenants(deps: TenantDeps, tenants: TenantRecord[], opts: CheckOptions): Promise<TenantReport[]> {
  const out: TenantReport[] = new Array(tenants.length);
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const i = next++;
      const t = tenants[i]!;
      try {
        out[i] = await checkTenant(deps, t, opts);
      } catch (e) {
        const r = fail(e);
        const checks = Object.fromEntries(CHECKS.map((c) => [c, c === 'token' ? r : skipped('check aborted')])) as Record<CheckName, CheckResult>;
        out[i] = { tenantId: t.tenantId, name: t.name, healthy: false, checks };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, tenants.length)) }, worker));
  return out;
}
