import type { Command } from 'commander';
import { checkConfig, EXAMPLE_CONFIG, formatProblem, redact } from '../config.ts';
import YAML from 'yaml';
import { action, globalOpts } from './common.ts';

export function registerConfig(program: Command): void {
  const cmd = program.command('config').description('validate or print configuration');
  cmd
    .command('check')
    .description('validate the configuration (file + TENANTWATCH_* env) and list every problem at once')
    .option('--print', 'print the effective configuration, secrets redacted')
    .action(
      action(async (opts: { print?: boolean }, c: Command) => {
        const file = globalOpts(c).config;
        const { config, problems } = checkConfig({ file });
        if (!config) {
          process.stderr.write(`error TW_CONFIG_INVALID: the configuration has ${problems.length} problem(s)\n`);
          for (const p of problems) process.stderr.write(`  - ${formatProblem(p)}\n`);
          return 2;
        }
        process.stdout.write(`configuration ok${file ? ` (${file})` : ' (defaults + environment)'}\n`);
        if (opts.print) process.stdout.write(YAML.stringify(redact(config)));
        return 0;
      }),
    );
  cmd
    .command('example')
    .description('print a commented example configuration')
    .action(() => {
      process.stdout.write(EXAMPLE_CONFIG);
    });
}
