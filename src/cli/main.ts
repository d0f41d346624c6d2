// `tenantwatch`: the service and CLI. Exit codes: 0 success, 1 operational failure, 2 bad usage/config.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands.ts';
import { reportError } from './common.ts';

export function buildProgram(): Command {
  const program = new Command('tenantwatch')
    .description('Watch the Microsoft 365 audit log of every customer tenant; catch mailbox takeovers; secure the account.')
    .option('-c, --config <file>', 'configuration file (YAML); default: TENANTWATCH_CONFIG, else defaults + env')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  program.commands.forEach(function walk(c: Command): void {
    c.exitOverride();
    c.commands.forEach(walk);
  });
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(e);
  }
}

await main();
