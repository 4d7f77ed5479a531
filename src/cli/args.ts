// The command line of `tidb-steward` (also `kubectl tidb-steward`): a command, its output format, and
// any of the service's own flags (--pd-endpoints, --pd-tls-secret, --kubeconfig, ...), which are
// handed to the service's configuration parser so that the CLI reaches PD exactly as the service does.

export type Command = { name: 'drain-plan'; node: string } | { name: 'status' } | { name: 'help' };

export interface CliArgs {
  command: Command;
  output: 'human' | 'json';
  /** Flags of the service (src/config.ts), with their values, in order. */
  serviceArgs: string[];
}

export class UsageError extends Error {}

export const USAGE = `usage: tidb-steward <command> [-o json] [service flags]

commands:
  drain-plan <node>   what draining <node> would do now, pod by pod: allowed, or held and why; the PD
                      leadership to move and the region leaders to evict first; members already leaving.
                      Changes nothing (no DisruptionLedger write, no PD write).
  status              every TidbCluster at a glance: phase, Ready, PD quorum margin (healthy - majority),
                      TiKV stores Up, members leaving.

options:
  -o, --output json   machine-readable output (default: text for people)
  --kubeconfig PATH   the kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
  --pd-endpoints JSON where PD is, as for the service: '{"<namespace>/<cluster>":["http://127.0.0.1:2379"]}'
  any other flag of the service (--pd-tls-secret, --pd-timeout-ms, --evict-leader-timeout-seconds,
  --drain-taints, ...) and its STEWARD_* variable apply as they do to the service.

As a kubectl plugin: put bin/kubectl-tidb_steward on PATH and run \`kubectl tidb-steward drain-plan <node>\`.`;

export function parseArgs(argv: readonly string[]): CliArgs {
  const positional: string[] = [];
  const serviceArgs: string[] = [];
  let output: CliArgs['output'] = 'human';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help' || arg === 'help') return { command: { name: 'help' }, output, serviceArgs };
    const format = arg === '-o' || arg === '--output' ? argv[++i] : /^(-o=?|--output=)(.*)$/.exec(arg)?.[2];
    if (format !== undefined || arg === '-o' || arg === '--output') {
      if (format !== 'json' && format !== 'text') throw new UsageError(`${arg} takes json or text, not ${format === undefined ? 'nothing' : JSON.stringify(format)}`);
      output = format === 'json' ? 'json' : 'human';
    } else if (arg.startsWith('--')) {
      serviceArgs.push(arg);
      if (!arg.includes('=')) {
        const value = argv[++i];
        if (value === undefined) throw new UsageError(`flag ${arg} needs a value`);
        serviceArgs.push(value);
      }
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else positional.push(arg);
  }
  const [name, ...rest] = positional;
  if (name === undefined) throw new UsageError('no command given');
  if (name === 'drain-plan') {
    if (rest.length !== 1) throw new UsageError('drain-plan takes one node name: tidb-steward drain-plan <node>');
    return { command: { name, node: rest[0]! }, output, serviceArgs };
  }
  if (name === 'status') {
    if (rest.length) throw new UsageError(`status takes no arguments (got ${rest.join(' ')})`);
    return { command: { name }, output, serviceArgs };
  }
  throw new UsageError(`unknown command ${JSON.stringify(name)}`);
}
