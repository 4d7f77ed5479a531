// `tidb-steward` / `kubectl tidb-steward`: drain-plan <node> and status. Exit codes: 0 done, 1 the
// cluster or PD could not be read as needed (the message says what to fix), 2 a usage error.
import { ConfigError, loadConfig } from '../config.ts';
import { parseArgs, USAGE, UsageError } from './args.ts';
import { renderNodePlan, renderStatus } from './render.ts';

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tidb-steward: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.command.name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadConfig(args.serviceArgs, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tidb-steward: ${err.message}\n`);
    return 2;
  }
  // Loaded only now: usage and configuration errors answer without the Kubernetes client.
  const { CliError, nodePlan, openSession, status } = await import('./run.ts');
  try {
    const session = openSession(config, env);
    const json = args.output === 'json';
    if (args.command.name === 'drain-plan') {
      const plan = await nodePlan(session, args.command.node);
      process.stdout.write(json ? `${JSON.stringify(plan, null, 2)}\n` : renderNodePlan(plan));
    } else {
      const rows = await status(session);
      process.stdout.write(json ? `${JSON.stringify({ clusters: rows }, null, 2)}\n` : renderStatus(rows));
    }
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`tidb-steward: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
