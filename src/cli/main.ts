#!/usr/bin/env node
import { GatekeeperError } from '../core/errors';
import { ConfigError } from '../server/config';
import { StartupError } from '../server/errors';
import { parseArgs, UsageError } from './args';
import { ApiError } from './client';
import { Command, CommandContext, usageOf } from './command';
import { advisories } from './commands/advisories';
import { license } from './commands/license';
import { login } from './commands/login';
import { migrate } from './commands/migrate';
import { approvals } from './commands/approvals';
import { approve } from './commands/approve';
import { audit } from './commands/audit';
import { ban } from './commands/ban';
import { bans } from './commands/bans';
import { catalogue } from './commands/catalogue';
import { dependents } from './commands/dependents';
import { explain } from './commands/explain';
import { policy } from './commands/policy';
import { unapprove } from './commands/unapprove';
import { unban } from './commands/unban';
import { publishRule, versions } from './commands/publishing';
import { check, request, requests, usage } from './commands/requests';
import { start } from './commands/start';
import { tag } from './commands/tag';
import { token } from './commands/token';
import { user } from './commands/user';
import { webhook } from './commands/webhook';
import { whoami } from './commands/whoami';
import { Output, safeOutput, stdio } from './output';

/**
 * Exit codes: 0 ok; 1 the operation failed (refused by the server: 401, 403, 404, 409, 429, 5xx;
 * or the server cannot be reached); 2 bad usage or configuration (a usage error the CLI finds
 * itself, input the server refuses as invalid: 400, EVALIDATION, EINVALID*; GATEKEEPER_URL
 * pointing at something that is not a gatekeeper, or at a redirect).
 */
export const COMMANDS: readonly Command[] = [start, migrate, login, whoami, user, token, approve, unapprove, ban, unban, approvals, bans, policy, explain, audit, versions, publishRule, license, request, requests, check, usage, advisories, tag, catalogue, dependents, webhook];

/** `--help`: every command takes it. */
const HELP_FLAG = { help: {} } as const;

function help(io: Output): void {
  io.out('usage: gatekeeper <command> [options]\n');
  for (const c of COMMANDS) io.out(`  ${usageOf(c).join('\n  ')}\n      ${c.summary}`);
  io.out('\nCommands other than start and migrate talk to the admin API of the registry given by --registry URL,');
  io.out("GATEKEEPER_URL or npm's configured registry, with npm's saved token for it. 'gatekeeper <command> --help'");
  io.out('shows one command. A flag a command does not take is refused.');
  io.out('Exit codes: 0 success; 1 the operation failed (refused by the server, or the server cannot be reached);');
  io.out('2 bad usage or configuration (including input the server refuses as invalid).');
}

function usageText(command: Command): string {
  return `usage: ${usageOf(command).join('\n       ')}`;
}

/** Input the server refused as the caller's mistake (invalid, or more than it takes): a usage error, exit 2. */
function isInvalidInput(status: number, code: string | undefined): boolean {
  return status === 400 || status === 413 || code === 'EVALIDATION' || (code?.startsWith('EINVALID') ?? false);
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (process.stdin.isTTY) return reject(new UsageError('expected input on standard input (a pipe), not a terminal'));
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (data += chunk));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

let quietOnEpipe = false;

/**
 * `gatekeeper explain … | head`: once the reader has gone, the rest of the output has nowhere
 * to go. Exit quietly (0) on EPIPE instead of crashing with an unhandled 'error' event; any
 * other error on stdout is thrown as before. Not for `start`, a server whose stdout is no pipe
 * to a reader that is done.
 */
function exitQuietlyOnEpipe(): void {
  if (quietOnEpipe) return;
  quietOnEpipe = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

export async function main(
  argv: string[],
  rawIo: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
  stdin: () => Promise<string> = readStdin,
): Promise<number> {
  const [name, ...rest] = argv;
  if (rawIo === stdio && name !== 'start') exitQuietlyOnEpipe();
  const io = safeOutput(rawIo);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`gatekeeper: unknown command '${name}'. Run 'gatekeeper help'.`);
    return 2;
  }
  try {
    const args = parseArgs(rest, { ...command.flags, ...HELP_FLAG });
    if (args.flags.help) {
      io.out(`${usageText(command)}\n\n${command.summary}`);
      return 0;
    }
    const ctx: CommandContext = { args, io, env, readStdin: stdin };
    return await command.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`gatekeeper ${name}: ${err.message}\n${usageText(command)}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof StartupError) {
      io.err(`gatekeeper ${name}: ${err.message}`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(err.message);
      return err.configuration || isInvalidInput(err.status, err.code) ? 2 : 1;
    }
    if (err instanceof GatekeeperError) {
      io.err(`[${err.code}] ${err.message}`);
      return isInvalidInput(0, err.code) ? 2 : 1;
    }
    io.err(`gatekeeper ${name}: ${(err as Error)?.stack ?? String(err)}`);
    return 1;
  }
}
