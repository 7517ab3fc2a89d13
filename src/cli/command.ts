import type { ParsedArgs } from './args';
import type { Output } from './output';

export interface CommandContext {
  args: ParsedArgs;
  io: Output;
  env: NodeJS.ProcessEnv;
  /** Standard input, read fully (for --password-stdin). */
  readStdin(): Promise<string>;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  booleanFlags?: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}
