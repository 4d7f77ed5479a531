// Starting, watching and stopping the local control plane's processes. Each runs in its own process
// group with its output in .cluster/logs/<name>.log, so `down` can stop it and everything it spawned.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { STATE } from './paths.ts';

export const LOGS = join(STATE, 'logs');
const PIDS = join(STATE, 'pids.json');

export const say = (msg: string) => process.stdout.write(`[cluster] ${msg}\n`);

export function readPids(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(PIDS, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function writePids(pids: Record<string, number>): void {
  mkdirSync(STATE, { recursive: true });
  writeFileSync(PIDS, JSON.stringify(pids, null, 2));
}

export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // kill(0 or -n) would probe a process group
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited process whose parent has not reaped it yet (a zombie) still answers kill(pid, 0).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export function logPath(name: string): string {
  return join(LOGS, `${name}.log`);
}

export function tail(name: string, lines = 20): string {
  const file = logPath(name);
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export function start(name: string, command: string, args: readonly string[], env: Record<string, string> = {}): number {
  mkdirSync(LOGS, { recursive: true });
  const fd = openSync(logPath(name), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name} (${command})`);
  writePids({ ...readPids(), [name]: child.pid });
  return child.pid;
}

/** SIGTERM to the process group, SIGKILL after a grace period. */
export async function stop(name: string, graceMs = 5000): Promise<boolean> {
  const pids = readPids();
  const pid = pids[name];
  if (!pid) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const wasAlive = alive(pid);
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) signal('SIGKILL');
  while (alive(pid)) await sleep(50);
  delete pids[name];
  writePids(pids);
  return wasAlive;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Polls check() until it returns true; on timeout explains which component failed and shows its log. */
export async function waitFor(name: string, check: () => Promise<boolean>, timeoutMs: number, pid?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (pid !== undefined && !alive(pid)) break;
    await sleep(200);
  }
  const why = pid !== undefined && !alive(pid) ? 'exited' : `did not become healthy within ${Math.round(timeoutMs / 1000)}s`;
  throw new Error(`${name} ${why}. Last lines of its log:\n${tail(name)}\nFull log: ${logPath(name)}`);
}

/** "pid 123 (kube-apiserver --etcd-servers=...)" for whoever listens on the TCP port, when /proc tells. */
export function portOwner(port: number): string | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, inode is the 10th field.
      if (f.length > 9 && f[3] === '0A' && parseInt(f[1]!.split(':').pop()!, 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) return `pid ${pid} (${cmdline(Number(pid)).slice(0, 160)})`;
    }
  }
  return 'a process this user cannot see';
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/**
 * Processes still running from this state directory: their command line or their KUBECONFIG points
 * into it. After `down` this should be empty; it is how down verifies that nothing is left.
 */
export function leftovers(): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  const kubeconfig = `KUBECONFIG=${join(STATE, 'admin.kubeconfig')}`;
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = cmdline(pid);
    let env = '';
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      // not ours to read
    }
    const ours = cmd.includes(`${STATE}/`) || (cmd.includes('src/main.ts') && env.split('\0').includes(kubeconfig));
    if (ours) found.push({ pid, cmd });
  }
  return found;
}
