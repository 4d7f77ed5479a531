// The real HTTPS server (extender and webhooks over filled caches, mTLS on) in a process of its own,
// so that the fuzzer sees a crash as what it is: the process going away. Prints {"port":N} when ready.
import { testApp } from '../http/harness.ts';
import { makeNode, makePod } from '../builders.ts';

const tls = { cert: process.env.FUZZ_SERVER_CERT!, key: process.env.FUZZ_SERVER_KEY! };
const nodes = ['a', 'b', 'c'].map((z) => makeNode(`node-${z}`, { 'topology.kubernetes.io/zone': `zone-${z}` }));
const pods = [
  ...[0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(i === 1 ? null : `node-${'abc'[i]}`).uid(`pd-uid-${i}`).view()),
  ...[0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('record', 'basic', 'pd').on(`node-${'abc'[i]}`).uid(`rec-${i}`).view()),
  ...[0, 1, 2].map((i) => makePod(`basic-tikv-${i}`).of('db', 'basic', 'tikv').on(`node-${'abc'[i]}`).uid(`tikv-uid-${i}`).view()),
];
const { app } = testApp({
  tls,
  clientAuth: { ca: process.env.FUZZ_CLIENT_CA!, allowedNames: [] },
  nodes,
  pods,
  bodyLimitBytes: 2 * 1024 * 1024,
  statefulSets: [
    { namespace: 'db', name: 'basic-pd', replicas: 3 },
    { namespace: 'db', name: 'basic-tikv', replicas: 3 },
    { namespace: 'record', name: 'basic-pd', replicas: 3 },
  ],
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port })}\n`);
