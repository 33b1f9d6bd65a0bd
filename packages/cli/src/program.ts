import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { CALL_OPTIONS, type CommandOption } from '@phoenix/protocol/call-options';
import { formatAmount, parseBatchSize, parseFailureLimit } from '@phoenix/protocol/batch';
import type { UpOptions } from './commands/up.js';
import type { LocalOptions } from './commands/local.js';
import type { RunOptions } from './commands/run.js';
import type { KeysOptions } from './commands/keys.js';
import type { InitClusterOptions } from './commands/keys-init-cluster.js';
import type { JobsOptions } from './commands/jobs.js';
import type { RunsOptions } from './commands/runs.js';
import type { OrchestrateOptions } from './commands/orchestrate.js';
import type { ApiOptions } from './commands/masters.js';
import type { MinionsOptions } from './commands/minions.js';
import type { FileServerUpdateOptions } from './commands/fileserver.js';
import type { TokenCreateOptions } from './commands/tokens.js';
import { OUTPUT_FORMATS, RUN_OUTPUTS, type OutputFormat } from './output.js';

/**
 * The `phoenix` command line, as one table: every command, argument and option is declared here
 * once, with what it means and an example; parsing, `--help`, `phoenix help CMD`, "did you mean"
 * suggestions (commander) and shell completion (completion.ts) all come from it. Each action loads
 * its command's module only when it runs, so `phoenix run` never loads the local cloud's code.
 */

/** What an action hands back: the process exit status. */
export interface Outcome {
  exitCode: number;
}

const VERSION_HELP = 'print the version of phoenix, and of each master when one can be reached';

export function buildProgram(outcome: Outcome): Command {
  const program = new Command('phoenix')
    .description(
      'Phoenix: a highly available control plane for server fleets, in the style of SaltStack. ' +
        'phoenix run is salt, phoenix keys is salt-key, phoenix call is salt-call.',
    )
    .usage('COMMAND [ARGS] [OPTIONS]')
    .option('-V, --version', VERSION_HELP)
    .exitOverride()
    // Commander prints its errors on two lines; bin/phoenix.ts prints them on one, with the code.
    .configureOutput({ outputError: () => undefined })
    .showSuggestionAfterError()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText(
      'after',
      `
Talking to a cluster: --api URL and --token TOKEN, else PHOENIX_API and PHOENIX_TOKEN, else the
local cluster that phoenix up started (its connection file under $PHOENIX_HOME, default ~/.phoenix).
An https:// API's certificate is checked against the system's CAs and --ca FILE (or PHOENIX_CA).
Every command takes --out json and then prints one JSON document. Exit status: 0 success, 1 a
failure, 2 a command line that could not be understood, 3 only minions that are not connected kept
a job from succeeding.

Start here:
  npm start                          the local cluster in the foreground (phoenix up)
  npx phoenix keys list              its minions' keys, accepted by the lifecycle reactor
  npx phoenix run '*' test.ping      a job to every minion
  npx phoenix help run               all about a command (or: npx phoenix run --help)`,
    );

  // ---- the local cluster -------------------------------------------------------------------
  const up = program
    .command('up')
    .summary('start the local cluster (the embedded cloud: no AWS account needed)')
    .description(
      'Starts the local cluster: an embedded DynamoDB, SQS/SNS and auto-scaling simulator on loopback ports, whose ' +
        'simulated instances are real phoenix-master and phoenix-minion processes. In the foreground until Ctrl-C ' +
        '(readable log lines here, JSON in $PHOENIX_HOME/local/up.log), or in the background with --detach.',
    )
    .addOption(countOption('--masters <N>', 'how many masters to start, e.g. --masters 3', 1, 100).default(1))
    .addOption(
      countOption('--minions <N>', 'how many minion instances to launch, e.g. --minions 5', 0, 10_000).default(0),
    )
    .option('--detach', 'run in the background and return once the masters are live (stop it with phoenix down)')
    .option(
      '--data-dir <DIR>',
      'keep the DynamoDB tables in DIR across runs (in memory otherwise), e.g. --data-dir ./data',
    )
    .option(
      '--sandbox-root <DIR>',
      "confine the local minions' states to DIR/<instance-id> (their state.root); by default they manage " +
        "this host's own file system, as on a real server, and phoenix up warns so, e.g. --sandbox-root /tmp/phoenix-root",
    );
  outOption(up);
  examples(up, [
    ['npx phoenix up --masters 1 --minions 2', 'what npm start runs'],
    ['npx phoenix up --detach --masters 2 --minions 3', 'in the background, for scripts'],
  ]);
  up.action(runs(outcome, async (options: UpOptions) => (await import('./commands/up.js')).up(options)));

  const down = program
    .command('down')
    .summary('stop the local cluster, foreground or detached')
    .description(
      'Stops the local cluster, whether phoenix up runs in the foreground or detached, and waits until nothing is left running.',
    );
  outOption(down);
  examples(down, [['npx phoenix down', '']]);
  down.action(
    runs(outcome, async (options: { out?: OutputFormat }) => (await import('./commands/down.js')).down(options)),
  );

  const local = program
    .command('local')
    .summary("drive the local cluster's simulated cloud: scale, kill, freeze or add masters")
    .description("Drives the local cluster's simulated cloud, to try scaling and failover by hand.");
  const scale = local
    .command('scale')
    .summary("set a simulated auto-scaling group's desired capacity")
    .description(
      "Sets a simulated auto-scaling group's desired capacity, through the real Auto Scaling API: new instances are " +
        'launched, accepted by the lifecycle reactor and highstated; removed ones are terminated and leave the cluster.',
    )
    .argument('<N>', 'the desired capacity', countParser('N', 0, 10_000))
    .addOption(
      new Option('--group <GROUP>', 'which group: minions (demo-web-devstack) or masters (phoenix-master-devstack)')
        .choices(['minions', 'masters'])
        .default('minions'),
    );
  outOption(scale);
  examples(scale, [
    ['npx phoenix local scale 5', 'five minion instances'],
    ['npx phoenix local scale 3 --group masters', 'three masters'],
  ]);
  scale.action(
    runs(outcome, async (n: number, options: LocalOptions) => (await import('./commands/local.js')).scale(n, options)),
  );
  const kill = local
    .command('kill-master')
    .summary('stop one master (SIGTERM: it drains; --hard: kill -9) and watch its minions fail over')
    .description(
      'Stops one master of the local cluster. Plain: SIGTERM, so it drains (tells its minions where to go) and ' +
        'leaves the masters table. With --hard: SIGKILL, as a crash; its minions notice missed heartbeats and move on. ' +
        'The simulated group then replaces it, as an auto-scaling group would.',
    )
    .argument('<ID>', 'the master instance id, as phoenix masters lists it (e.g. i-0abc…)')
    .option('--hard', 'kill -9: no draining, as if the machine died');
  outOption(kill);
  examples(kill, [
    ['npx phoenix masters', 'find an id'],
    ['npx phoenix local kill-master i-0123456789abcdef0 --hard', ''],
  ]);
  kill.action(
    runs(outcome, async (id: string, options: LocalOptions) =>
      (await import('./commands/local.js')).killMaster(id, options),
    ),
  );
  const freeze = local
    .command('freeze-master')
    .summary('pause one master (SIGSTOP) until thaw-master: a hung master, not a dead one')
    .description(
      'Pauses one master with SIGSTOP: it holds its sockets but answers nothing, as a hung process would. Its ' +
        'heartbeat stops, so other masters and its minions count it dead. phoenix local thaw-master resumes it.',
    )
    .argument('<ID>', 'the master instance id, as phoenix masters lists it');
  outOption(freeze);
  examples(freeze, [['npx phoenix local freeze-master i-0123456789abcdef0', '']]);
  freeze.action(
    runs(outcome, async (id: string, options: LocalOptions) =>
      (await import('./commands/local.js')).signalMaster(id, 'SIGSTOP', options),
    ),
  );
  const thaw = local
    .command('thaw-master')
    .summary('resume a master paused by freeze-master (SIGCONT)')
    .description('Resumes a master that freeze-master paused (SIGCONT); it heartbeats again and takes minions back.')
    .argument('<ID>', 'the master instance id');
  outOption(thaw);
  examples(thaw, [['npx phoenix local thaw-master i-0123456789abcdef0', '']]);
  thaw.action(
    runs(outcome, async (id: string, options: LocalOptions) =>
      (await import('./commands/local.js')).signalMaster(id, 'SIGCONT', options),
    ),
  );
  const add = local
    .command('add-master')
    .summary('launch one more master (the masters group grows by one)')
    .description(
      'Raises the simulated masters group by one: a new master starts, joins the mesh, and minions rebalance onto it.',
    );
  outOption(add);
  examples(add, [['npx phoenix local add-master', '']]);
  add.action(runs(outcome, async (options: LocalOptions) => (await import('./commands/local.js')).addMaster(options)));

  const token = program
    .command('token')
    .summary("print the local cluster's admin token (for the dashboard and --token)")
    .description(
      "Prints the local cluster's admin token: paste it into the dashboard, or pass it as --token / PHOENIX_TOKEN. " +
        'It is random per cluster and kept only in the connection file (mode 0600).',
    );
  examples(token, [['npx phoenix token', '']]);
  token.action(runs(outcome, async () => (await import('./commands/token.js')).token()));

  // ---- this host, no master ------------------------------------------------------------------
  const call = program
    .command('call')
    .summary('run one function on this host, no master (salt-call --local)')
    .description(
      'Runs one function on this host with no master, as salt-call --local: states and pillar from local roots. ' +
        "Run by the minion program itself (phoenix-minion call); the exit status is the function's retcode.",
    )
    .argument('<FUNCTION>', 'module.function, e.g. state.highstate, grains.items, cmd.run')
    .argument('[ARGS...]', "the function's arguments: positional, and key=value for keyword arguments");
  for (const option of CALL_OPTIONS) call.addOption(tableOption(option));
  examples(call, [
    ['npx phoenix call --local test.ping', ''],
    ['npx phoenix call --local state.highstate --file-root ./salt --pillar-root ./pillar', ''],
    ["npx phoenix call --local state.single file.managed name=/tmp/motd contents='hello'", ''],
  ]);
  call.action(
    runs(outcome, async () =>
      (await import('./commands/call.js')).call(process.argv.slice(process.argv.indexOf('call') + 1)),
    ),
  );

  // ---- any master's API ------------------------------------------------------------------
  const run = program
    .command('run')
    .summary("run a function on the minions a target selects (salt '*' test.ping)")
    .description(
      'Runs a function on every minion the target selects, as salt does, and prints each return as it arrives. ' +
        'Minions that are not connected to any master are reported at once ("not connected"); the job waits only ' +
        'for the connected ones (--wait-offline waits for all, as salt does). Exit status: 0 every minion ' +
        'succeeded; 1 one failed, did not return in time or was skipped; 3 only not-connected minions are missing.',
    )
    .argument('<TARGET>', "which minions: a glob on the minion id by default ('*', 'web-*'); see -G, -L, -C, -E")
    .argument('<FUNCTION>', 'module.function, e.g. test.ping, cmd.run, grains.items, state.highstate')
    .argument('[ARGS...]', "the function's arguments: positional, and key=value for keyword arguments (test=True)")
    .addOption(
      targetOption('-G, --grain', "TARGET is GRAIN:GLOB on the minions' grains (Salt's -G), e.g. -G 'role:web'"),
    )
    .addOption(
      targetOption('-L, --list', "TARGET is a comma-separated list of minion ids (Salt's -L), e.g. -L 'web-1,web-2'"),
    )
    .addOption(
      targetOption(
        '-C, --compound',
        "TARGET combines matchers with and/or/not (Salt's -C): G@ grain, L@ list, E@ regex, P@ grain regex, " +
          "a bare word is a glob on the id, e.g. -C 'G@role:web and not G@kernel:Windows'",
      ),
    )
    .addOption(
      targetOption(
        '-E, --pcre',
        "TARGET is a regular expression matched from the start of the id (Salt's -E), e.g. -E 'web-[0-9]+$'",
      ),
    )
    .addOption(
      new Option(
        '-I, --pillar',
        "Salt's pillar targeting: not offered, since a master renders pillar per minion on demand; target grains " +
          'instead (-G, or G@ in -C): grains set through the master are ones it can vouch for',
      ),
    )
    .addOption(
      new Option('-t, --timeout <S>', 'seconds to wait for the connected minions to return, 1 to 86400, e.g. -t 60')
        .argParser(secondsParser)
        .default(30),
    )
    .option('--async', 'print the job id and return at once; see the returns later with phoenix jobs show JID')
    .option('--wait-offline', 'also wait (until --timeout) for minions that are not connected, as salt does')
    .addOption(
      new Option(
        '-b, --batch <N>',
        "a rollout: at most N minions (or N% of the targeted ones) at a time, the next starting as one returns (Salt's -b); " +
          'driven by one master, resumed by another if it dies; e.g. -b 2 or -b 25%',
      ).argParser(amountParser(parseBatchSize)),
    )
    .addOption(
      new Option(
        '--batch-wait <S>',
        "with -b: seconds to wait after a minion returns before its place goes to the next one (Salt's --batch-wait), e.g. --batch-wait 5",
      ).argParser(waitParser),
    )
    .addOption(
      new Option(
        '--max-failures <N>',
        'with -b: once more than N minions (or N% of them) failed or did not return, start no more; those running ' +
          "finish and the rest are named as never run (AWS SSM's MaxErrors), e.g. --max-failures 1",
      ).argParser(amountParser(parseFailureLimit)),
    )
    .addOption(
      new Option(
        '--out <FORMAT>',
        'how returns are printed: nested (default; highstate for state runs), highstate, yaml, or json (one document)',
      ).choices(RUN_OUTPUTS),
    )
    .option('--no-color', 'never colour the highstate output')
    .option('--force-color', 'colour the highstate output even when not on a terminal');
  apiOptions(run);
  examples(run, [
    ["npx phoenix run '*' test.ping", 'every minion'],
    ["npx phoenix run -G 'role:web' cmd.run 'uptime'", 'minions whose role grain is web'],
    ["npx phoenix run -C 'G@role:web and not G@kernel:Windows' grains.items --out json", 'a compound target'],
    ["npx phoenix run '*' state.highstate test=True", 'a dry run of every state'],
    ["npx phoenix run -b 25% --max-failures 1 '*' state.apply", 'a rollout, a quarter of the fleet at a time'],
  ]);
  run.action(
    runs(outcome, async (target: string, fun: string, words: string[], options: RunOptions) =>
      (await import('./commands/run.js')).run(target, fun, words, options),
    ),
  );

  const orchestrate = program
    .command('orchestrate')
    .summary('run an orchestration SLS across the fleet, step by step (salt-run state.orchestrate)')
    .description(
      "Runs an orchestration SLS from the masters' file server, as Salt's state.orchestrate: steps salt.state, " +
        'salt.function, salt.wait_for_event and the key built-ins of salt.runner/salt.wheel, ordered by require, ' +
        "onfail and onchanges; Jinja sees the pillar and every minion's grains (cache.grains). A master checks every " +
        'step first (an SLS that does not render, an unknown function, a requisite cycle: nothing runs), then drives ' +
        'the steps; if it dies another master resumes them, never running a step twice. Prints the results as ' +
        "Salt's orchestrate outputter. Exit status 1 when a step failed.",
    )
    .argument('<NAME>', 'the orchestration SLS, e.g. orch.mongo for salt://orch/mongo.sls')
    .argument('[ARGS...]', "pillar='{...}' (JSON or YAML, merged over the master's pillar), saltenv=ENV, test=True")
    .option('--async', 'print the run id and return at once; follow it with phoenix orchestrations show ID')
    .addOption(
      new Option('--out <FORMAT>', 'highstate (default), yaml, or json (one document)').choices([
        'highstate',
        'json',
        'yaml',
      ]),
    )
    .option('--no-color', 'never colour the output')
    .option('--force-color', 'colour the output even when not on a terminal');
  apiOptions(orchestrate);
  examples(orchestrate, [
    ['npx phoenix orchestrate orch.mongo', 'config servers, then shards, then routers, then apps'],
    ['npx phoenix orchestrate orch.mongo pillar=\'{"version": "7.0"}\' test=True', 'a dry run'],
  ]);
  orchestrate.action(
    runs(outcome, async (name: string, words: string[], options: OrchestrateOptions) =>
      (await import('./commands/orchestrate.js')).orchestrate(name, words, options),
    ),
  );

  const keys = program
    .command('keys')
    .summary('list, accept, reject and delete minion keys (salt-key)')
    .description('The cluster-wide key store, as salt-key: one set of keys for every master.');
  const keyList = keys
    .command('list')
    .summary('list keys by state (salt-key -L)')
    .description(
      'Lists keys by state: accepted, pending, rejected, denied (salt-key -L). A key whose minion kept sending ' +
        'what masters refuse is shown QUARANTINED with the reason: every master refuses its connections.',
    )
    .argument('[PATTERN]', "a glob on the minion id, e.g. 'web-*'", '*')
    .addOption(
      new Option('--state <STATE>', 'only keys in this state, e.g. --state pending').choices([
        'accepted',
        'pending',
        'rejected',
        'denied',
      ]),
    );
  apiOptions(keyList);
  examples(keyList, [
    ['npx phoenix keys list', ''],
    ["npx phoenix keys list 'web-*' --state pending", ''],
  ]);
  keyList.action(
    runs(outcome, async (pattern: string, options: KeysOptions) =>
      (await import('./commands/keys.js')).list(pattern, options),
    ),
  );
  for (const [action, salt, include] of [
    ['accept', '-a', 'also accept rejected keys (salt-key --include-rejected)'],
    ['reject', '-r', 'also reject accepted keys (salt-key --include-accepted)'],
    ['delete', '-d', ''],
  ] as const) {
    const sub = keys
      .command(action)
      .summary(`${action} the keys a pattern matches (salt-key ${salt})`)
      .description(
        `${action[0]?.toUpperCase()}${action.slice(1)}s the keys whose minion id matches PATTERN, on every master at once (salt-key ${salt}).` +
          (action === 'reject' || action === 'delete'
            ? ' A connected minion with such a key is cut off at once.'
            : '') +
          (action === 'accept' ? ' Accepting a quarantined key lifts its quarantine.' : ''),
      )
      .argument('<PATTERN>', "a glob on the minion id, e.g. 'web-*' or '*'");
    if (include !== '') sub.option('--include', include);
    if (action === 'accept') {
      sub.option(
        '--fingerprint <FP>',
        'accept only the key with this fingerprint (as phoenix keys list shows it): settles a contested id, e.g. --fingerprint 8f:5b:…',
      );
    }
    apiOptions(sub);
    examples(sub, [[`npx phoenix keys ${action} 'web-*'`, '']]);
    sub.action(
      runs(outcome, async (pattern: string, options: KeysOptions) =>
        (await import('./commands/keys.js')).change(action, pattern, options),
      ),
    );
  }
  const init = keys
    .command('init-cluster')
    .summary("make a real deployment's cluster key pair, once per cluster")
    .description(
      'Makes the cluster CURVE key pair of a real deployment: every master reads both files from its pkiDir, ' +
        'every minion pins the public key. Existing files are kept unless --force (a new pair cuts every minion off).',
    )
    .option(
      '--pki-dir <DIR>',
      'where to write cluster.pub and cluster.key, e.g. --pki-dir /etc/phoenix/pki',
      '/etc/phoenix/pki',
    )
    .option('--force', 'replace an existing pair');
  outOption(init);
  examples(init, [['npx phoenix keys init-cluster --pki-dir /etc/phoenix/pki', '']]);
  init.action(
    runs(outcome, async (options: InitClusterOptions) =>
      (await import('./commands/keys-init-cluster.js')).initCluster(options),
    ),
  );

  const jobs = program
    .command('jobs')
    .summary('the job cache: recent jobs and their returns, from any master')
    .description('The job cache, readable from any master (salt-run jobs.list_jobs, jobs.lookup_jid).');
  const jobList = jobs
    .command('list')
    .summary('recent jobs, newest first')
    .description('Lists recent jobs, newest first: jid, function, target, how many minions, who submitted it.')
    .addOption(countOption('--limit <N>', 'how many jobs, 1 to 1000, e.g. --limit 10', 1, 1000).default(50));
  apiOptions(jobList);
  examples(jobList, [['npx phoenix jobs list --limit 10', '']]);
  jobList.action(runs(outcome, async (options: JobsOptions) => (await import('./commands/jobs.js')).list(options)));
  const jobShow = jobs
    .command('show')
    .summary("one job's returns, and who has not returned")
    .description(
      "Shows one job: each minion's return, the minions that did not return, and those skipped. Given the id of a " +
        'rollout (phoenix run -b), shows the run as phoenix orchestrations show does.',
    )
    .argument('<JID>', 'the job id that phoenix run --async or phoenix jobs list printed, or a run id');
  apiOptions(jobShow);
  examples(jobShow, [['npx phoenix jobs show 20250102030405678000', '']]);
  jobShow.action(
    runs(outcome, async (jid: string, options: JobsOptions) => (await import('./commands/jobs.js')).show(jid, options)),
  );

  const orchestrations = program
    .command('orchestrations')
    .summary('orchestrations and batch rollouts: recent ones, and one as it stands, from any master')
    .description(
      'Runs that a master drives under a lease (phoenix orchestrate, phoenix run -b) and another master resumes ' +
        'if it dies: listed and shown live from any master.',
    );
  const runList = orchestrations
    .command('list')
    .summary('recent orchestrations and batch rollouts, newest first')
    .description('Lists recent runs: id, kind, status, what they run, who submitted them and which masters drove them.')
    .addOption(countOption('--limit <N>', 'how many runs, 1 to 500, e.g. --limit 10', 1, 500).default(50));
  apiOptions(runList);
  examples(runList, [['npx phoenix orchestrations list --limit 10', '']]);
  runList.action(runs(outcome, async (options: RunsOptions) => (await import('./commands/runs.js')).list(options)));
  const runShow = orchestrations
    .command('show')
    .summary('one run as it stands: steps, jobs sent, minions done, failed and waiting')
    .description(
      'Shows one run live: its status and the masters that drove it, each step, the jobs it sent and every ' +
        "minion's outcome so far. Exit status 1 when the run failed or stopped.",
    )
    .argument('<ID>', 'the run id that phoenix orchestrate or phoenix run -b printed');
  apiOptions(runShow);
  examples(runShow, [['npx phoenix orchestrations show 20250102030405678000', '']]);
  runShow.action(
    runs(outcome, async (id: string, options: RunsOptions) => (await import('./commands/runs.js')).show(id, options)),
  );

  const masters = program
    .command('masters')
    .summary('every master: live, draining or dead, and whose state tree differs')
    .description(
      'Lists every master in the masters table as any master sees it: liveness, address, minions, tree hash.',
    );
  apiOptions(masters);
  examples(masters, [['npx phoenix masters', '']]);
  masters.action(
    runs(outcome, async (options: ApiOptions) => (await import('./commands/masters.js')).masters(options)),
  );

  const fileserver = program
    .command('fileserver')
    .summary('the git roots of the state tree and pillar: update them on every master')
    .description("Salt's fileserver runner. Only `update` is there.");
  const fileserverUpdate = fileserver
    .command('update')
    .summary('every master fetches its git roots now; waits until every live master serves the new commits')
    .description(
      'Fetches the git remotes of fileRoots and pillarRoots on every master now (as salt-run fileserver.update), ' +
        'then waits until every live master serves the commits the answering master fetched. ' +
        'Exit status 1 when a root failed to update or a master did not follow in time.',
    )
    .addOption(
      countOption(
        '--wait <S>',
        'seconds to wait for every master to serve the new commits, 0 to 3600, e.g. --wait 30',
        0,
        3600,
      ).default(60),
    );
  apiOptions(fileserverUpdate);
  examples(fileserverUpdate, [
    ['npx phoenix fileserver update', 'after a push to the states or pillar repository'],
    ['npx phoenix fileserver update --wait 0 --out json', 'do not wait for the other masters'],
  ]);
  fileserverUpdate.action(
    runs(outcome, async (options: FileServerUpdateOptions) =>
      (await import('./commands/fileserver.js')).fileServerUpdate(options),
    ),
  );

  const minions = program
    .command('minions')
    .summary('every instance: lifecycle, key, master, last highstate')
    .description(
      'Lists the fleet: key state, lifecycle state, the master each minion is connected to, its last highstate. ' +
        'Terminated instances are left out once their retention window has passed (--all shows them).',
    )
    .argument('[PATTERN]', "a glob on the minion id, e.g. 'web-*'", '*')
    .option(
      '--state <STATE>',
      'a key state (pending, accepted, rejected, denied) or a lifecycle state (warming, warmed, launching, in-service, terminating, terminated), e.g. --state in-service',
    )
    .option('--master <ID>', 'only minions connected to this master, e.g. --master i-0abc…')
    .option('--all', 'also terminated instances whose retention window has passed');
  apiOptions(minions);
  examples(minions, [
    ['npx phoenix minions', ''],
    ['npx phoenix minions --state pending', ''],
  ]);
  minions.action(
    runs(outcome, async (pattern: string, options: MinionsOptions) =>
      (await import('./commands/minions.js')).minions(pattern, options),
    ),
  );

  const tokens = program
    .command('tokens')
    .summary('API tokens with an expiry: create, list and revoke them (admin)')
    .description(
      'API tokens kept cluster-wide, hashed, in DynamoDB: an admin makes them with a role and an expiry, lists them ' +
        "and revokes them; a revoked or expired token is refused by every master. Tokens in the masters' config work besides these.",
    );
  const tokenCreate = tokens
    .command('create')
    .summary('make a token; it is printed once')
    .description('Makes a token with a role and an expiry and prints it once: only its hash is kept.')
    .argument('<NAME>', 'what the token is for, e.g. ci-reader')
    .addOption(
      new Option('--role <ROLE>', 'what the token may do: read, operate (run jobs) or admin (keys, tokens)')
        .choices(['read', 'operate', 'admin'])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--ttl <DURATION>',
        'how long it is valid: a number and s, m, h or d, e.g. --ttl 30d (default: no expiry)',
      ).argParser(durationParser),
    );
  apiOptions(tokenCreate);
  examples(tokenCreate, [['npx phoenix tokens create ci-reader --role read --ttl 30d', '']]);
  tokenCreate.action(
    runs(outcome, async (name: string, options: TokenCreateOptions) =>
      (await import('./commands/tokens.js')).create(name, options),
    ),
  );
  const tokenList = tokens
    .command('list')
    .summary('every token made with tokens create: active, expired or revoked')
    .description(
      'Lists the tokens made with phoenix tokens create: id, name, role, state and expiry (never the token).',
    );
  apiOptions(tokenList);
  examples(tokenList, [['npx phoenix tokens list', '']]);
  tokenList.action(runs(outcome, async (options: ApiOptions) => (await import('./commands/tokens.js')).list(options)));
  const tokenRevoke = tokens
    .command('revoke')
    .summary('revoke a token on every master')
    .description('Revokes a token: every master refuses it from then on.')
    .argument('<ID>', 'the token id phoenix tokens list shows (the 12 hex digits after phx_)');
  apiOptions(tokenRevoke);
  examples(tokenRevoke, [['npx phoenix tokens revoke 0123456789ab', '']]);
  tokenRevoke.action(
    runs(outcome, async (id: string, options: ApiOptions) =>
      (await import('./commands/tokens.js')).revoke(id, options),
    ),
  );

  const completion = program
    .command('completion')
    .summary('print a bash or zsh completion script')
    .description('Prints a shell completion script for phoenix, made from this very table of commands and options.')
    .addArgument(new Argument('<SHELL>', 'bash or zsh').choices(['bash', 'zsh']));
  examples(completion, [
    ['source <(npx phoenix completion bash)', 'in this shell; add it to ~/.bashrc to keep it'],
    ['npx phoenix completion zsh > "${fpath[1]}/_phoenix"', 'zsh'],
  ]);
  completion.action(
    runs(outcome, async (shell: 'bash' | 'zsh') => (await import('./completion.js')).printCompletion(program, shell)),
  );
  return program;
}

/** Wraps an action so that its exit status reaches the process. */
function runs<A extends unknown[]>(
  outcome: Outcome,
  action: (...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    outcome.exitCode = await action(...args);
  };
}

function examples(command: Command, lines: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...lines.map(([line]) => line.length));
  const text = lines.map(([line, note]) => `  ${note === '' ? line : `${line.padEnd(width)}   ${note}`}`).join('\n');
  command.addHelpText('after', `\nExamples:\n${text}`);
}

function outOption(command: Command): void {
  command.addOption(
    new Option(
      '--out <FORMAT>',
      'text (default), json (one JSON document, for scripts) or yaml, e.g. --out json',
    ).choices(OUTPUT_FORMATS),
  );
}

function apiOptions(command: Command): void {
  if (!command.options.some((o) => o.long === '--out')) outOption(command);
  command
    .option(
      '--api <URL>',
      "any master's API (default: PHOENIX_API, else the local cluster), e.g. --api http://10.0.0.5:8080",
    )
    .option(
      '--token <TOKEN>',
      'a bearer token with the role the command needs (default: PHOENIX_TOKEN, else the local cluster)',
    )
    .option(
      '--ca <FILE>',
      "PEM certificate(s) to trust for an https:// API besides the system's (default: PHOENIX_CA), e.g. --ca ./ca.pem",
    );
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

function durationParser(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  const seconds = match === null ? 0 : Number(match[1]) * (DURATION_UNITS[match[2] as string] ?? 0);
  if (!(seconds > 0) || seconds > 10 * 365 * 86_400) {
    throw new InvalidArgumentError('--ttl must be a number and s, m, h or d, up to ten years, e.g. 30d');
  }
  return seconds;
}

function targetOption(flags: string, description: string): Option {
  return new Option(flags, description).conflicts(
    ['grain', 'list', 'compound', 'pcre'].filter((name) => !flags.endsWith(`--${name}`)),
  );
}

function tableOption(option: CommandOption): Option {
  const flags = `${option.short === undefined ? '' : `-${option.short}, `}--${option.name}${
    option.type === 'string' ? ` <${option.value ?? 'VALUE'}>` : ''
  }`;
  const made = new Option(flags, option.description);
  if (option.choices !== undefined) made.choices(option.choices);
  if (option.multiple === true)
    made.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  if (option.default !== undefined && option.type === 'string') made.default(option.default);
  return made;
}

function countParser(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

function countOption(flags: string, description: string, min: number, max: number): Option {
  return new Option(flags, description).argParser(countParser(flags.split(' ')[0] ?? flags, min, max));
}

/** A batch size or failure limit as typed (`2`, `25%`), checked here so a bad one never reaches a master. */
function amountParser(parse: (text: string) => Parameters<typeof formatAmount>[0]): (value: string) => string {
  return (value) => {
    try {
      return formatAmount(parse(value));
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function waitParser(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds > 86_400) {
    throw new InvalidArgumentError('--batch-wait must be seconds from 0 to 86400');
  }
  return seconds;
}

function secondsParser(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0) || seconds > 86_400) {
    throw new InvalidArgumentError('--timeout must be seconds from 1 to 86400 (a job needs time to return)');
  }
  return seconds;
}
