// Detection history backed by the store (detect_state), on every dialect: a second process picks up
// where the first left off.
import { describe, expect, it } from 'vitest';
import { DIALECTS, freshStore } from './helpers/stores.ts';
import { createStoreHistory } from '../src/store/tables/detect.ts';
import { createDetector } from '../src/detect/detector.ts';
import { normalizeRecord } from '../src/detect/normalize.ts';
import type { NormalizedRecord } from '../src/detect/record.ts';
import type { TenantContext } from '../src/model.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';

const ctx: TenantContext = { tenantId: 't1', name: 't', acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
const geo = { lookup: (ip: string) => ({ ip, country: ip.startsWith('105.') ? 'NG' : 'FR', asn: ip.startsWith('105.') ? 36873 : 3215 }) };
let n = 0;
function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: `s${n++}`, CreationTime: '2026-01-01T00:00:00', OrganizationId: 't1', UserId: 'jane@contoso.com', Operation: 'UserLoggedIn', ResultStatus: 'Success', ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}

describe.each(DIALECTS)('detection history on %s', (dialect) => {
  it('persists sign-in baselines between batches, so a new country fires in the next one', async () => {
    const s = await freshStore(dialect);
    try {
      const { pack } = loadRulePackFromDirs();
      const first = rec({ ClientIP: '90.24.113.8' });
      const h1 = createStoreHistory();
      const det1 = createDetector({ pack, geo });
      await h1.preload(s.db, det1.historyKeys(first, ctx));
      expect(det1.evaluate(first, ctx, h1)).toEqual([]);
      await s.db.transaction().execute(async (trx) => expect(await h1.save(trx)).toBe(1));

      const second = rec({ ClientIP: '105.112.44.61', CreationTime: '2026-01-02T00:00:00' });
      const h2 = createStoreHistory();
      const det2 = createDetector({ pack, geo });
      await h2.preload(s.db, det2.historyKeys(second, ctx));
      const ds = det2.evaluate(second, ctx, h2);
      expect(ds.map((d) => [d.behaviour, d.severity])).toEqual([['signin-anomaly', 'medium']]);
      await h2.save(s.db);
      const row = await s.db.selectFrom('detect_state').selectAll().where('key', '=', 'signin:jane@contoso.com').executeTakeFirstOrThrow();
      expect(JSON.parse(row.value_json).n).toBe(2);
    } finally {
      await s.dispose();
    }
  });
});
