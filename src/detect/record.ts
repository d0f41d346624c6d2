// The normalized audit record: what detection, the store and the console read. Plain JSON-able data
// (no classes) so it can cross process and file boundaries. Built by src/ingest/normalize.ts.

/** A `[{Name, Value}]` pair (Parameters, OperationProperties, ExtendedProperties, DeviceProperties). */
export interface NameValue {
  name: string;
  value: string;
}

/** A `[{Name, NewValue, OldValue}]` triple (ModifiedProperties). */
export interface ModifiedProperty {
  name: string;
  newValue: string;
  oldValue: string;
}

/** An Actor/Target entry: `{ID, Type}`. */
export interface IdentityRef {
  id: string;
  type: number | string | undefined;
}

export interface NormalizedRecord {
  /** The record's `Id` (de-duplication key). */
  id: string;
  /** `CreationTime` as ISO-8601 UTC with milliseconds and Z. */
  creationTime: string;
  /** `creationTime` as epoch milliseconds. */
  time: number;
  operation: string;
  /** `RecordType` as given (a number normally; unknown values kept). */
  recordType: number | string | undefined;
  workload: string;
  /** `OrganizationId` (tenant GUID), lower-cased. */
  tenantId: string;
  /** `UserId`: the actor (UPN or a system actor). */
  userId: string;
  userType: number | undefined;
  objectId: string;
  /** `ResultStatus` as given ('' when absent). */
  resultStatus: string;
  /** False only when `ResultStatus` says the operation failed (False/Failed/Failure). */
  succeeded: boolean;
  /** The client IP without port or brackets, from ClientIP / ClientIPAddress / ActorIpAddress ('' when none). */
  clientIp: string;
  /** Parameters (Exchange admin), from the `[{Name,Value}]` array or a PowerShell-style string. */
  parameters: NameValue[];
  operationProperties: NameValue[];
  extendedProperties: NameValue[];
  modifiedProperties: ModifiedProperty[];
  actor: IdentityRef[];
  target: IdentityRef[];
  appId: string;
  clientAppId: string;
  clientInfoString: string;
  mailboxOwnerUpn: string;
  logonType: number | undefined;
  externalAccess: boolean | undefined;
  errorNumber: string;
  logonError: string;
  /** The whole record as JSON, cut to a bound (evidence); filled on demand by `rawJson()`. */
  raw?: string;
  /** True when some value was cut to the size bound. */
  truncated: boolean;
}

/** Bounds on attacker-controlled sizes. */
export const LIMITS = {
  /** Longest string kept from any field; longer ones are cut and end with TRUNCATION_MARK. */
  maxString: 16384,
  /** Most entries kept from a Parameters/properties list. */
  maxEntries: 256,
  /** Longest raw JSON kept for evidence. */
  maxRawJson: 64 * 1024,
} as const;

export const TRUNCATION_MARK = '…[truncated]';

/** ASCII case-insensitive equality without allocating. */
export function sameName(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/** Case-insensitive first value of a name in a NameValue list ('' when absent). */
export function nv(list: readonly NameValue[], name: string): string {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (sameName(e.name, name)) return e.value;
  }
  return '';
}

/** Whether a name is present (case-insensitive) in a NameValue list. */
export function hasName(list: readonly { name: string }[], name: string): boolean {
  for (let i = 0; i < list.length; i++) if (sameName(list[i].name, name)) return true;
  return false;
}

/** A ModifiedProperties entry by name (case-insensitive). */
export function modified(list: readonly ModifiedProperty[], name: string): ModifiedProperty | undefined {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (sameName(e.name, name)) return e;
  }
  return undefined;
}
