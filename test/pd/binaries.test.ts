// PD_BIN_DIR checks: what a user who brings the wrong thing is told.
import t from 'tap';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pdBinaries } from '../cluster/pd.ts';

function folder(files: Record<string, string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bin-test-'));
  for (const [name, script] of Object.entries(files)) {
    writeFileSync(join(dir, name), script ?? 'not a program');
    if (script !== null) chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

const version = (v: string) => `#!/bin/sh\nprintf 'Release Version: ${v}\\nEdition: Community\\nGit Commit Hash: ab1848b1274bfef46e949b9056c98c57aaf3da34\\n'\n`;
const sim = '#!/bin/sh\nexit 0\n';

function check(dir: string | undefined): string | null {
  const before = process.env.PD_BIN_DIR;
  if (dir === undefined) delete process.env.PD_BIN_DIR;
  else process.env.PD_BIN_DIR = dir;
  try {
    pdBinaries();
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (before === undefined) delete process.env.PD_BIN_DIR;
    else process.env.PD_BIN_DIR = before;
  }
}

t.test('a folder with pd-server v8.5.x and pd-simulator is taken', async (t) => {
  const dir = folder({ 'pd-server': version('v8.5.4'), 'pd-simulator': sim });
  process.env.PD_BIN_DIR = dir;
  try {
    t.match(pdBinaries(), { dir, pdServer: join(dir, 'pd-server'), pdSimulator: join(dir, 'pd-simulator'), version: 'v8.5.4', gitHash: 'ab1848b1274bfef46e949b9056c98c57aaf3da34' });
  } finally {
    delete process.env.PD_BIN_DIR;
  }
});

t.test('every wrong folder gets what was found, what is expected and where to get PD', async (t) => {
  const where = /tiup.*pd:v8\.5\.4.*pingcap\/pd:v8\.5\.4.*make simulator/s;
  const table: Array<[string, string | undefined, RegExp]> = [
    ['not set', undefined, /PD_BIN_DIR is not set/],
    ['not a folder', '/nonexistent-pd-bin', /PD_BIN_DIR=\/nonexistent-pd-bin is not a folder/],
    ['empty', folder({}), /pd-server is missing; .*pd-simulator is missing/],
    ['no simulator', folder({ 'pd-server': version('v8.5.4') }), /pd-simulator is missing/],
    ['not executable', folder({ 'pd-server': null, 'pd-simulator': sim }), /pd-server is not executable \(chmod \+x it\)/],
    ['not pd-server', folder({ 'pd-server': '#!/bin/sh\necho hello; exit 2\n', 'pd-simulator': sim }), /pd-server -V did not print a PD version \(exit 2\): hello\. Is it pd-server\?/],
    ['another release', folder({ 'pd-server': version('v7.5.2'), 'pd-simulator': sim }), /pd-server is PD v7\.5\.2; expected v8\.5\.x/],
    ['a build without a version', folder({ 'pd-server': version('None'), 'pd-simulator': sim }), /pd-server is PD None; expected v8\.5\.x/],
  ];
  for (const [name, dir, message] of table) {
    const got = check(dir);
    t.match(got, message, name);
    t.match(got, where, `${name}: says where to get PD`);
  }
});
