// Lint: typescript-eslint's recommended rules plus the dependency direction of docs/architecture.md:
// detect/ is pure (no I/O), only m365/ speaks Microsoft protocols, src/ and packages/m365-sim never
// import each other.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const IO_MODULES = [
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'net', 'node:net', 'http', 'node:http', 'https', 'node:https',
  'http2', 'node:http2', 'dgram', 'node:dgram', 'dns', 'node:dns', 'tls', 'node:tls', 'child_process', 'node:child_process',
  'worker_threads', 'node:worker_threads', 'undici', 'pg', 'better-sqlite3', 'kysely', 'nodemailer', 'maxmind', 'pg-boss',
  '@azure/msal-node', 'fastify',
];

const SIM_IMPORT = {
  group: ['m365-sim', 'm365-sim/*', '**/packages/m365-sim/**'],
  message: 'src/ and packages/m365-sim never import each other (tests start the simulator through test/helpers).',
};

export default tseslint.config(
  { ignores: ['node_modules/**', '**/node_modules/**', 'console/dist/**', 'dist/**', 'test-results/**', 'packages/*/node_modules/**', 'packages/*/dist/**', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    files: ['console/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/m365/**', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@azure/msal-node', message: 'only src/m365/ speaks Microsoft protocols' }],
        patterns: [SIM_IMPORT],
      }],
    },
  },
  {
    files: ['src/detect/**/*.ts'],
    ignores: ['src/detect/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: IO_MODULES.map((name) => ({ name, message: 'detect/ is pure: no I/O (the pipeline passes data in)' })),
        patterns: [
          SIM_IMPORT,
          { group: ['**/store/**', '**/m365/**', '**/ingest/**', '**/notify/**', '**/web/**', '**/remediate/**', '**/cli/**', '**/tenants/**'], message: 'detect/ is pure: it imports only model types and other detect/ modules' },
        ],
      }],
    },
  },
  {
    files: ['packages/m365-sim/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['tenantwatch', 'tenantwatch/*', '../../src/**', '../../../src/**'], message: 'the simulator never imports tenantwatch' }],
      }],
    },
  },
);
