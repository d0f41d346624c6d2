// Every CLI command group, in one explicit list (help order). Add one line per command module.
import type { Command } from 'commander';
import { registerAlerts } from './alerts-cmd.ts';
import { registerChannels } from './channels-cmd.ts';
import { registerExclusions } from './exclusions-cmd.ts';
import { registerConfig } from './config-cmd.ts';
import { registerDb } from './db-cmd.ts';
import { registerPoll } from './poll-cmd.ts';
import { registerRun } from './run-cmd.ts';
import { registerRemediate } from './remediate-cmd.ts';
import { registerTenants } from './tenants-cmd.ts';
import { registerUsers } from './users-cmd.ts';
import { registerDemo } from './demo-cmd.ts';
import { registerReplay } from './replay-cmd.ts';
import { registerRules } from './rules-cmd.ts';

export const COMMANDS: Array<(program: Command) => void> = [
  registerDemo,
  registerConfig,
  registerDb,
  registerRun,
  registerPoll,
  registerRemediate,
  registerTenants,
  registerAlerts,
  registerChannels,
  registerExclusions,
  registerReplay,
  registerRules,
  registerUsers,
];
