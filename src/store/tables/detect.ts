// Tables owned by detect/, and the query functions that back detection history with the store.
import type { Kysely, Transaction } from 'kysely';
import type { History, HistoryKey } from '../../detect/history.ts';
import { nowIso } from '../db.ts';

export interface DetectTables {
  /**
   * Small key/value state of history-based rules: per-user sign-in baselines (`signin:<user>`) and
   * cross-tenant forwarding destinations (`dest:<address>`, tenant_id '*').
   */
  detect_state: {
    tenant_id: string;
    key: string;
    value_json: string;
    updated_at: string;
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any> | Transaction<any>;

/** A History backed by detect_state: preload the keys of a batch, evaluate synchronously, then save. */
export interface StoreHistory extends History {
  preload(db: AnyDb, keys: readonly HistoryKey[]): Promise<void>;
  /** Writes the changed keys (upsert) — call inside the batch's transaction. */
  save(db: AnyDb): Promise<number>;
}

export function createStoreHistory(): StoreHistory {
  const map = new Map<string, unknown>();
  const loaded = new Set<string>();
  const dirty = new Set<string>();
  const k = (t: string, key: string) => `${t}\u0000${key}`;
  return {
    get: (t, key) => map.get(k(t, key)),
    set: (t, key, value) => {
      map.set(k(t, key), value);
      dirty.add(k(t, key));
    },
    async preload(db, keys) {
      const want = keys.filter((x) => !loaded.has(k(x.tenantId, x.key)));
      for (let i = 0; i < want.length; i += 200) {
        const chunk = want.slice(i, i + 200);
        const rows = await db
          .selectFrom('detect_state')
          .select(['tenant_id', 'key', 'value_json'])
          .where((eb) => eb.or(chunk.map((x) => eb.and([eb('tenant_id', '=', x.tenantId), eb('key', '=', x.key)]))))
          .execute();
        for (const r of rows as Array<{ tenant_id: string; key: string; value_json: string }>) {
          try {
            map.set(k(r.tenant_id, r.key), JSON.parse(r.value_json));
          } catch {
            // a corrupt row is treated as no history
          }
        }
        for (const x of chunk) loaded.add(k(x.tenantId, x.key));
      }
    },
    async save(db) {
      const now = nowIso();
      let n = 0;
      for (const c of dirty) {
        const [tenant_id, key] = c.split('\u0000');
        const value_json = JSON.stringify(map.get(c) ?? null);
        await db
          .insertInto('detect_state')
          .values({ tenant_id, key, value_json, updated_at: now })
          .onConflict((oc) => oc.columns(['tenant_id', 'key']).doUpdateSet({ value_json, updated_at: now }))
          .execute();
        n++;
      }
      dirty.clear();
      return n;
    },
  };
}
