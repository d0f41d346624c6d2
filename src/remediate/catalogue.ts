// The action catalogue: every remediation step tenantwatch knows, what it does, whether it can be
// undone, and which steps an alert's behaviour pre-selects.
import type { Behaviour } from '../model.ts';

export const STEP_IDS = [
  'block-sign-in',
  'revoke-sessions',
  'reset-password',
  'disable-inbox-rules',
  'clear-forwarding',
  'disable-owa',
  'remove-transport-rule',
  'revoke-consent',
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** Steps of an undo run (each reverts one kind of forward step). */
export const UNDO_STEP_IDS = ['unblock-sign-in', 'enable-inbox-rules', 'restore-forwarding', 'enable-owa'] as const;
export type UndoStepId = (typeof UNDO_STEP_IDS)[number];

export interface StepSpec {
  id: StepId;
  title: string;
  /** One line for the confirmation page and `--help`. */
  description: string;
  /** The undo step that reverts it, when Microsoft allows. */
  undo?: UndoStepId;
}

export const CATALOGUE: readonly StepSpec[] = [
  { id: 'block-sign-in', title: 'Block sign-in', description: 'Set accountEnabled to false (Graph).', undo: 'unblock-sign-in' },
  { id: 'revoke-sessions', title: 'Revoke sessions', description: 'Invalidate refresh tokens and session cookies (Graph revokeSignInSessions).' },
  {
    id: 'reset-password',
    title: 'Reset password',
    description: 'Set a strong random password shown once to you, or force a change at next sign-in (Graph passwordProfile).',
  },
  {
    id: 'disable-inbox-rules',
    title: 'Disable malicious inbox rules',
    description: "Disable (or remove) the inbox rules the alert's evidence names, hidden ones included (Get-InboxRule -IncludeHidden); other rules are untouched.",
    undo: 'enable-inbox-rules',
  },
  {
    id: 'clear-forwarding',
    title: 'Clear mailbox forwarding',
    description: 'Set ForwardingSmtpAddress and ForwardingAddress to null and DeliverToMailboxAndForward to false (Set-Mailbox).',
    undo: 'restore-forwarding',
  },
  { id: 'disable-owa', title: 'Disable Outlook on the web', description: 'Set OWAEnabled to false (Set-CASMailbox).', undo: 'enable-owa' },
  {
    id: 'remove-transport-rule',
    title: 'Remove the transport rule',
    description: 'Remove the mail-flow rule the alert is about (Remove-TransportRule).',
  },
  {
    id: 'revoke-consent',
    title: 'Revoke the consent grant',
    description: 'Delete the delegated permission grant of the application the alert is about (Graph oauth2PermissionGrants).',
  },
];

export function stepSpec(id: StepId): StepSpec {
  const s = CATALOGUE.find((x) => x.id === id);
  if (!s) throw new Error(`unknown step ${id}`);
  return s;
}

export function isStepId(s: string): s is StepId {
  return (STEP_IDS as readonly string[]).includes(s);
}

const ACCOUNT: StepId[] = ['block-sign-in', 'revoke-sessions', 'reset-password'];
const MAILBOX: StepId[] = ['disable-inbox-rules', 'clear-forwarding'];

/** Steps pre-selected for an alert of this behaviour (the operator may change the selection). */
export const DEFAULT_STEPS: Record<Behaviour, StepId[]> = {
  'inbox-rule-external-forward': [...ACCOUNT, ...MAILBOX],
  'inbox-rule-delete-all': [...ACCOUNT, ...MAILBOX],
  'inbox-rule-hide': [...ACCOUNT, ...MAILBOX],
  'mailbox-forwarding-external': [...ACCOUNT, ...MAILBOX],
  'shared-destination': [...ACCOUNT, ...MAILBOX],
  'mailbox-permission-grant': [...ACCOUNT],
  'account-security-weakened': [...ACCOUNT],
  'signin-anomaly': [...ACCOUNT],
  'transport-rule-external': ['remove-transport-rule', 'revoke-sessions'],
  'illicit-consent': ['revoke-consent', 'revoke-sessions'],
};

export function defaultSteps(behaviour: string): StepId[] {
  return orderSteps(DEFAULT_STEPS[behaviour as Behaviour] ?? ACCOUNT);
}

/** Puts steps in catalogue order (account first: block before anything else) and drops duplicates. */
export function orderSteps(steps: readonly StepId[]): StepId[] {
  const want = new Set(steps);
  return STEP_IDS.filter((s) => want.has(s));
}
