// `tenantwatch users add|passwd|token|list|role|remove`: console users, roles and API tokens.
import type { Command } from 'commander';
import { OperatorError } from '../errors.ts';
import { action, configFor, storeFor } from './common.ts';
import { addUser, createApiToken, deleteUser, generatePassword, listApiTokens, listUsers, ROLES, setPassword, updateUser } from '../web/users.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > 4096) throw new OperatorError('TW_USER_INVALID', { detail: 'password on stdin longer than 4096 bytes' });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The password from stdin, or a generated one (printed once, since the operator must hand it over). */
async function passwordFrom(opts: { passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (opts.passwordStdin) return { password: await readStdin(), generated: false };
  return { password: generatePassword(), generated: true };
}

export function registerUsers(program: Command): void {
  const cmd = program.command('users').description('console users, roles (admin, analyst, viewer) and API tokens');
  cmd
    .command('add <username>')
    .description('add a user; prints a generated password once unless --password-stdin')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'analyst')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      action(async (username: string, opts: { role: string; passwordStdin?: boolean }, c: Command) => {
        const config = configFor(c);
        const store = await storeFor(config);
        try {
          const { password, generated } = await passwordFrom(opts);
          const u = await addUser(store.db, { username, password, role: opts.role });
          process.stdout.write(`user ${u.username} added with role ${u.role}\n`);
          if (generated) process.stdout.write(`password ${password}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('passwd <username>')
    .description("set a user's password (ends their sessions); prints a generated one once unless --password-stdin")
    .option('--password-stdin', 'read the password from standard input')
    .action(
      action(async (username: string, opts: { passwordStdin?: boolean }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const { password, generated } = await passwordFrom(opts);
          await setPassword(store.db, username, password);
          process.stdout.write(`password of ${username} changed; their sessions are ended\n`);
          if (generated) process.stdout.write(`password ${password}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('token <username>')
    .description('create an API token for automation (Authorization: Bearer <token>); printed once')
    .option('--name <name>', 'what the token is for', 'api')
    .action(
      action(async (username: string, opts: { name: string }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const t = await createApiToken(store.db, username, opts.name);
          process.stdout.write(`token ${t.token}\n`);
          process.stderr.write(`token id ${t.id} for ${username}; it is shown only now\n`);
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('list')
    .description('list users (and their API tokens, without the tokens themselves)')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { json?: boolean }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const users = await listUsers(store.db);
          const tokens = await listApiTokens(store.db);
          if (opts.json) {
            process.stdout.write(JSON.stringify(users.map((u) => ({ ...u, tokens: tokens.filter((t) => t.username === u.username).map(({ username: _u, ...t }) => t) }))) + '\n');
            return;
          }
          if (!users.length) process.stdout.write('no users yet: `tenantwatch users add <name> --role admin`\n');
          for (const u of users) {
            const n = tokens.filter((t) => t.username === u.username).length;
            process.stdout.write(`${u.username}\t${u.role}${u.disabled ? '\tdisabled' : ''}\t${n} token(s)\n`);
          }
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('role <username> <role>')
    .description(`change a user's role (${ROLES.join(', ')})`)
    .action(
      action(async (username: string, role: string, _o: unknown, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const u = await updateUser(store.db, username, { role });
          process.stdout.write(`${u.username} is now ${u.role}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('remove <username>')
    .description('delete a user, their sessions and API tokens')
    .action(
      action(async (username: string, _o: unknown, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          await deleteUser(store.db, username);
          process.stdout.write(`user ${username} removed\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
