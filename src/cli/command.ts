import type { ParsedArgs } from './args';
import type { Output } from './output';

export interface CommandContext {
  args: ParsedArgs;
  io: Output;
  env: NodeJS.ProcessEnv;
  /** Standard input, read fully (for --password-stdin). */
  readStdin(): Promise<string>;
}

/** A flag a command takes: `value` names its value in the help text (`--reason R`); without it, a switch (`--json`). */
export interface FlagSpec {
  value?: string;
  /** Another spelling of that flag (`--color` of `--colour`): parsed as it, and not shown in the help text. */
  aliasOf?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface Command {
  name: string;
  /**
   * Its forms, as the help text shows them after `gatekeeper <name>`. A `--flag` in a form is
   * written out from `flags` (`[--reason]` shows as `[--reason R]`); every flag a form names
   * must be declared there, and every declared flag is named by a form (test/unit/cli.test.ts).
   */
  forms: readonly string[];
  /** Every flag it takes: the parser refuses any other, and knows from this which take a value. */
  flags: FlagSpecs;
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

/** `--registry URL`: every command that talks to the admin API takes it. */
export const REGISTRY_FLAG: FlagSpecs = { registry: { value: 'URL' } };

/** A command's usage, one line a form, as the help text and a usage error show it: written from its forms and flags. */
export function usageOf(command: Pick<Command, 'name' | 'forms' | 'flags'>): string[] {
  return command.forms.map((form) => {
    const text = form.replace(/--([a-z][a-z0-9-]*)/g, (whole, flag: string) => {
      const spec = command.flags[flag];
      if (!spec) throw new Error(`${command.name}: the form '${form}' names --${flag}, which is not declared`);
      return spec.value ? `${whole} ${spec.value}` : whole;
    });
    return `gatekeeper ${command.name}${text ? ` ${text}` : ''}`;
  });
}
