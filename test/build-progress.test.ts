// The first build's "about N left": this machine's own past times when it has them, else reference
// times scaled by how the run is going.
import t from 'tap';
import { duration, historyOf, REFERENCE_SECONDS, secondsLeft } from './cluster/build-progress.ts';
import { RECIPES } from './cluster/binaries.ts';

t.test('every binary the harness builds has a reference time', async (t) => {
  for (const name of Object.keys(RECIPES)) t.ok(REFERENCE_SECONDS[name] !== undefined || name === 'helm' || name === 'promtool', `${name} has a reference`);
});

t.test('time left: references at first, scaled by this run\'s pace, replaced by this machine\'s history', async (t) => {
  const all = ['etcd', 'kube-apiserver', 'kubectl'];
  const ref = REFERENCE_SECONDS;
  t.equal(secondsLeft([], all), ref.etcd! + ref['kube-apiserver']! + ref.kubectl!, 'nothing built yet: the references');
  t.equal(secondsLeft([{ name: 'etcd', seconds: ref.etcd! * 2 }], ['kube-apiserver', 'kubectl']), (ref['kube-apiserver']! + ref.kubectl!) * 2, 'a run twice as slow: twice the references');
  t.equal(secondsLeft([{ name: 'etcd', seconds: ref.etcd! / 2 }], ['kubectl'], { kubectl: 50 }), 50, 'this machine\'s own time wins');
  t.equal(secondsLeft([], []), 0, 'nothing left');
  t.equal(secondsLeft([], ['something-new']), 120, 'an unknown binary: a default guess');
});

t.test('history: the last time of each binary; bad lines skipped', async (t) => {
  const jsonl = ['{"name":"etcd","seconds":88}', 'garbage', '{"name":"etcd","seconds":70}', '{"name":"kwok","seconds":0}', '{"seconds":5}', ''].join('\n');
  t.same(historyOf(jsonl), { etcd: 70 });
});

t.test('durations people read', async (t) => {
  const table: Array<[number, string]> = [[0, '0s'], [59.4, '59s'], [60, '1m00s'], [605, '10m05s'], [3600, '1h00m'], [5400, '1h30m'], [-3, '0s']];
  for (const [s, text] of table) t.equal(duration(s), text, `${s}`);
});
