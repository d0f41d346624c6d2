// A counting semaphore: at most `n` tasks run at once; the rest wait in arrival order.
export interface Limiter {
  run<T>(fn: () => Promise<T>): Promise<T>;
  readonly active: number;
}

export function createLimiter(n: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  const acquire = (): Promise<void> =>
    active < n
      ? (active++, Promise.resolve())
      : new Promise<void>((resolve) => waiting.push(() => (active++, resolve())));
  const release = (): void => {
    active--;
    const next = waiting.shift();
    if (next) next();
  };
  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await fn();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
  };
}

/** Runs `fn` over `items` with at most `n` in flight; resolves when all are done (errors are the callee's job). */
export async function forEachLimited<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) {
      const item = items[i++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
