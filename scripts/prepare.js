// Runs at `npm ci` / `npm install`: builds what the service serves (the console) and the CLI's bundle
// (bin/tenantwatch.js makes it on first use otherwise, which a read-only install cannot), so that nothing
// is built or downloaded at run time. Skips quietly when the console sources are not there yet.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
if (existsSync(path.join(root, 'console', 'vite.config.ts'))) {
  const r = spawnSync('npx', ['--no-install', 'vite', 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// The CLI's bundle under dist/cli/: any command makes it; --help does nothing else.
const cli = spawnSync(process.execPath, [path.join(root, 'bin', 'tenantwatch.js'), '--help'], { cwd: root, stdio: 'ignore' });
if (cli.status !== 0) process.exit(cli.status ?? 1);
