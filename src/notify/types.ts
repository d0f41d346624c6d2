// What the dispatcher hands a channel, and what a channel answers. Declared where they are consumed.
import type { Behaviour, Severity } from '../model.ts';

export type NotificationEvent = 'created' | 'escalated' | 'test';

/**
 * A snapshot of an alert at the moment of an event: every attempt (and a crash-restarted attempt) renders
 * exactly this, so retries send the same content. Strings are raw (attacker text included); each channel
 * escapes for its medium at render time.
 */
export interface NotificationView {
  alertId: string;
  event: NotificationEvent;
  tenantId: string;
  tenantName?: string;
  userId: string;
  ruleId: string;
  behaviour: Behaviour | string;
  severity: Severity;
  summary: string;
  target?: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  attempt?: boolean;
  ip?: string;
  country?: string;
  countryName?: string;
  city?: string;
  asn?: number;
  asOrg?: string;
  hosting?: boolean;
  /** Whether the IP / country / ASN had never been seen for this user (undefined: no baseline yet). */
  newIp?: boolean;
  newCountry?: boolean;
  newAsn?: boolean;
  /** Severity before this escalation (event 'escalated'). */
  previousSeverity?: Severity;
}

export interface NotificationMessage {
  /** The idempotency key: stable per delivery (outbox row), sent to receivers. */
  key: string;
  view: NotificationView;
  /** Link to the alert in the console, when web.publicUrl is set. */
  alertUrl?: string;
  /** The signed Secure and Remediate link, when remediation links are configured. */
  remediateUrl?: string;
}

export type SendResult = { ok: true; detail?: string } | { ok: false; retry: boolean; error: string };

export interface SendOptions {
  /** Aborted when the channel's time is up. */
  signal: AbortSignal;
}

/** A configured destination (one per `notify.channels` entry). */
export interface Channel {
  readonly name: string;
  readonly type: string;
  /** Per-send time limit; the dispatcher aborts the send after it. */
  readonly timeoutMs: number;
  send(message: NotificationMessage, opts: SendOptions): Promise<SendResult>;
  /** The exact payload this channel would send (tests and the demo's notifications page). */
  render(message: NotificationMessage): unknown;
  close?(): Promise<void>;
}
