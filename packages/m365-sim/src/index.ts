// Public entry for tests and the demo: start a simulator in-process.
export type * from './types.ts';
