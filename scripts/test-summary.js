// Prints one closing line for CI from the Vitest JSON reports: "tests: N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const f of ['test-results/vitest-root.json', 'test-results/vitest-m365-sim.json']) {
  if (!existsSync(f)) continue;
  const r = JSON.parse(readFileSync(f, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
