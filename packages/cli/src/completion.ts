import type { Command } from 'commander';

/**
 * Shell completion made from the command table itself (program.ts): for each command path, the
 * words that may follow it (its subcommands and options). zsh runs the same function through its
 * bash compatibility layer (bashcompinit), so both shells complete alike.
 */
export async function printCompletion(program: Command, shell: 'bash' | 'zsh'): Promise<number> {
  process.stdout.write(completionScript(program, shell));
  return 0;
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const table: Array<[string, string[]]> = [];
  const walk = (command: Command, path: string[]): void => {
    const subcommands = command.commands.map((c) => c.name());
    if (subcommands.length > 0) subcommands.push('help');
    const options = command.options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
    const arguments_ = command.registeredArguments.flatMap((a) => a.argChoices ?? []);
    table.push([path.join(' '), [...subcommands, ...arguments_, ...options, '--help']]);
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  const paths = table.filter(([path]) => path !== '').map(([path]) => `" ${path}"`);
  const cases = table.map(([path, words]) => `    "${path === '' ? '' : ` ${path}`}") words="${words.join(' ')}" ;;`);
  const body = `# phoenix ${shell} completion: source <(phoenix completion ${shell})
_phoenix() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$path $word" in
      ${paths.join('|')}) path="$path $word" ;;
    esac
  done
  case "$path" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _phoenix phoenix
`;
  return shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${body}` : body;
}
