// Tables owned by scale/ (see store/schema.ts for the conventions).
export interface ScaleTables {
  /** Requests reserved per window × tenant × API by all processes together (src/scale/budget.ts). */
  request_budget: {
    /** ISO start of the window. */
    window_start: string;
    tenant_id: string;
    /** management | graph | exchange */
    api: string;
    reserved: number;
    /** What the latest reservation got (read back with RETURNING). */
    last_grant: number;
  };
}
