// Where the project's files are: the directory of tenantwatch's package.json. Found by walking up from this
// module, so it holds whether the code runs from src/ (tsx, tests) or from the bundle bin/tenantwatch.js
// makes under dist/ (where a module's own import.meta.url no longer says where its source was).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tenantwatch') return dir;
      } catch {
        // not a readable package.json: keep walking
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`tenantwatch's package.json not found above ${start}`);
  }
}

/** The project root (README.md, rules/, console/dist/, packages/). */
export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
