/**
 * The functions whose return is a state run, shown by the highstate outputter unless told
 * otherwise. Kept free of imports: the CLI loads it on every `phoenix run`.
 */
const STATE_RUNS = new Set(['state.apply', 'state.highstate', 'state.sls', 'state.sls_id', 'state.single']);

export function isStateRun(fun: string): boolean {
  return STATE_RUNS.has(fun);
}
