// What the web server consumes from the other modules, declared where it is consumed. main.ts (or the
// demo, or a test) passes implementations in; a missing port answers 503 TW_WEB_UNAVAILABLE.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { User } from './users.ts';

export const ALERT_STATUSES = ['open', 'acknowledged', 'snoozed', 'resolved', 'suppressed'] as const;

/** One row of `GET /api/alerts` (contracts §6; field names are the contract). */
export interface AlertListItem {
  id: string;
  ruleId: string;
  behaviour: string;
  severity: string;
  tenantId: string;
  userId: string;
  status: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  summary: string;
  [extra: string]: unknown;
}

export interface AlertFilter {
  status?: string;
  tenantId?: string;
  severity?: string;
  behaviour?: string;
  userId?: string;
  cursor?: string;
  limit: number;
}

export type AlertAction = 'ack' | 'resolve' | 'snooze' | 'reopen';

export interface AlertsPort {
  list(filter: AlertFilter): Promise<{ items: AlertListItem[]; next: string | null }>;
  /** The alert with evidence records, enrichment, notifications sent, remediation runs, activity. */
  get(id: string): Promise<(AlertListItem & Record<string, unknown>) | undefined>;
  act(id: string, action: AlertAction, actor: string, opts: { until?: string; note?: string }): Promise<AlertListItem | undefined>;
  /** Changes whenever any alert changes (drives the live list); optional. */
  version?(): Promise<string>;
}

export interface ExclusionsPort {
  list(): Promise<Array<Record<string, unknown>>>;
  add(exclusion: Record<string, unknown>, actor: string): Promise<Record<string, unknown>>;
  remove(id: string, actor: string): Promise<boolean>;
}

export interface TenantView {
  tenantId: string;
  name: string;
  enabled?: boolean;
  healthy: boolean;
  checks: Record<string, { ok: boolean; reason?: string; fix?: string }>;
  [extra: string]: unknown;
}

export interface TenantsPort {
  list(): Promise<TenantView[]>;
  /** Runs the health checks again (when the tenants module can). */
  check?(tenantId: string): Promise<TenantView | undefined>;
  onboard?(tenantId: string, actor: string): Promise<Record<string, unknown>>;
  enableAuditLog?(tenantId: string, actor: string): Promise<Record<string, unknown>>;
  discover?(actor: string): Promise<Record<string, unknown>>;
}

export interface ChannelsPort {
  /** Sends a test message through the named channel; data for failures. */
  sendTest(name: string, actor: string): Promise<{ ok: boolean; error?: string }>;
}

/** The memory channel's deliveries, rendered as each medium would show them (demo "notifications"). */
export interface NotificationsPort {
  list(): Promise<Array<Record<string, unknown>>>;
}

export interface ReadyCheck {
  name: string;
  check(): Promise<boolean> | boolean;
}

/** Handed to `registerRemediationRoutes(app, deps)` and other route modules registered by others. */
export interface RouteHelpers {
  currentUser(req: FastifyRequest): Promise<User | undefined>;
  /** True when the request is authenticated by an API token or carries the session's CSRF token. */
  checkCsrf(req: FastifyRequest): Promise<boolean>;
  /** Pushes an event to every console connected to /api/events. */
  publish(event: string, data: unknown): void;
}

export type RouteRegistrar = (app: FastifyInstance, helpers: RouteHelpers) => void | Promise<void>;
