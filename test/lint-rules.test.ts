import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function lintAs(code: string, filePath: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath });
  return res.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('dependency-direction lint rules', () => {
  it('fails when a detect/ file imports node:fs', async () => {
    const code = readFileSync(new URL('./fixtures/lint/impure-detect.ts', import.meta.url), 'utf8');
    const msgs = await lintAs(code, 'src/detect/impure.ts');
    expect(msgs.some((m) => m.startsWith('no-restricted-imports') && m.includes('detect/ is pure'))).toBe(true);
  });

  it('lets the same import stand outside detect/', async () => {
    const code = readFileSync(new URL('./fixtures/lint/impure-detect.ts', import.meta.url), 'utf8');
    expect(await lintAs(code, 'src/ingest/reader.ts')).toEqual([]);
  });

  it('keeps @azure/msal-node inside src/m365/', async () => {
    const code = "import { ConfidentialClientApplication } from '@azure/msal-node';\nexport const c = ConfidentialClientApplication;\n";
    expect((await lintAs(code, 'src/tenants/x.ts')).some((m) => m.includes('only src/m365/'))).toBe(true);
    expect(await lintAs(code, 'src/m365/token.ts')).toEqual([]);
  });

  it('keeps src/ and the simulator apart', async () => {
    const code = "import { startSim } from 'm365-sim';\nexport const s = startSim;\n";
    expect((await lintAs(code, 'src/ingest/x.ts')).some((m) => m.includes('never import each other'))).toBe(true);
  });
});
