// The remediation log on every dialect: runs and steps round-trip with before/after values, newest
// first; a link nonce can be claimed once, also when several confirmations race.
import { describe, expect, it } from 'vitest';
import { DIALECTS, freshStore } from './helpers/stores.ts';
import { claimLinkNonce, finishRun, getRun, insertRun, insertStep, linkUse, listRuns, markUndone, setLinkRun } from '../src/remediate/log-store.ts';
import type { StepResult } from '../src/remediate/playbook-types.ts';

const step = (over: Partial<StepResult>): StepResult => ({
  step: 'block-sign-in', status: 'succeeded', detail: 'blocked', target: 'u@contoso.com', before: { accountEnabled: true }, after: { accountEnabled: false },
  undoable: true, startedAt: '2026-03-04T10:00:00.000Z', finishedAt: '2026-03-04T10:00:01.000Z', ...over,
});

describe.each(DIALECTS)('remediation log on %s', (dialect) => {
  it('keeps every run with who, when, from where and each step with its before and after values', async () => {
    const s = await freshStore(dialect);
    try {
      for (const [i, id] of ['run-a', 'run-b'].entries()) {
        await insertRun(s.db, {
          id, alertId: 'al_1', tenantId: 't', userId: 'u@contoso.com', actor: 'alice', source: 'console', origin: '10.0.0.1', status: 'running',
          dryRun: false, undoOf: null, requestedSteps: ['block-sign-in', 'disable-inbox-rules'], options: { ruleAction: 'disable' }, startedAt: `2026-03-04T10:0${i}:00.000Z`,
        });
        await insertStep(s.db, id, 0, step({}));
        await insertStep(s.db, id, 1, step({
          step: 'disable-inbox-rules', status: 'failed', detail: 'failed on ".."', error: { code: 'ManagementObjectNotFoundException', message: "couldn't be found", status: 404 },
          items: [{ kind: 'inbox-rule', name: '..', identity: '18446744073709551615', status: 'failed', hidden: true }],
        }));
        await finishRun(s.db, id, 'partially-succeeded', `2026-03-04T10:0${i}:05.000Z`);
      }
      const runs = await listRuns(s.db, { alertId: 'al_1' });
      expect(runs.map((r) => r.id)).toEqual(['run-b', 'run-a']);
      const a = (await getRun(s.db, 'run-a'))!;
      expect(a).toMatchObject({ actor: 'alice', source: 'console', origin: '10.0.0.1', status: 'partially-succeeded', dryRun: false, requestedSteps: ['block-sign-in', 'disable-inbox-rules'] });
      expect(a.steps[0]).toMatchObject({ step: 'block-sign-in', before: { accountEnabled: true }, after: { accountEnabled: false }, undoable: true, undoneBy: null });
      expect(a.steps[1]).toMatchObject({ status: 'failed', error: { code: 'ManagementObjectNotFoundException' }, items: [{ identity: '18446744073709551615', hidden: true }] });
      await markUndone(s.db, 'run-a', [0], 'run-u');
      expect((await getRun(s.db, 'run-a'))!.steps.map((x) => x.undoneBy)).toEqual(['run-u', null]);
      expect(await listRuns(s.db, { alertId: 'al_1', before: '2026-03-04T10:01:00.000Z' })).toHaveLength(1);
    } finally {
      await s.dispose();
    }
  });

  it('lets a link nonce be claimed exactly once, also when confirmations race', async () => {
    const s = await freshStore(dialect);
    try {
      const claims = await Promise.all(
        Array.from({ length: 6 }, (_, i) => claimLinkNonce(s.db, { nonce: 'n-1', alertId: 'al_1', actor: `p${i}`, origin: null, at: '2026-03-04T10:00:00.000Z' })),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      await setLinkRun(s.db, 'n-1', 'run-x');
      expect(await linkUse(s.db, 'n-1')).toMatchObject({ runId: 'run-x' });
      expect(await claimLinkNonce(s.db, { nonce: 'n-1', alertId: 'al_1', actor: 'late', origin: null, at: '2026-03-04T10:00:01.000Z' })).toBe(false);
      expect(await linkUse(s.db, 'n-2')).toBeUndefined();
    } finally {
      await s.dispose();
    }
  });
});
