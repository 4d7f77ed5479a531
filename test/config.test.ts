import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';

t.test('defaults', async (t) => {
  const c = loadConfig([], {});
  t.equal(c.port, 9443);
  t.equal(c.listenHost, '0.0.0.0');
  t.same(c.topologyKeys, ['kubernetes.io/hostname']);
  t.same(c.pdEndpoints, {});
  t.ok(Object.isFrozen(c));
});

t.test('flags win over environment, both forms of flags work', async (t) => {
  const c = loadConfig(['--port', '10443', '--topology-keys=kubernetes.io/hostname, topology.kubernetes.io/zone'], { STEWARD_PORT: '1', STEWARD_LOG_LEVEL: 'debug' });
  t.equal(c.port, 10443);
  t.equal(c.logLevel, 'debug');
  t.same(c.topologyKeys, ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  const pd = loadConfig([], { STEWARD_PD_ENDPOINTS: '{"db/basic":["http://127.0.0.1:12379","http://127.0.0.1:12381"]}' });
  t.same(pd.pdEndpoints, { 'db/basic': ['http://127.0.0.1:12379', 'http://127.0.0.1:12381'] });
});

t.test('a bad value names the setting', async (t) => {
  const table: Array<[string[], Record<string, string>, RegExp]> = [
    [['--port', '70000'], {}, /--port \/ STEWARD_PORT: .*\(got "70000"\)/],
    [[], { STEWARD_LOG_LEVEL: 'loud' }, /--log-level \/ STEWARD_LOG_LEVEL/],
    [[], { STEWARD_TOPOLOGY_KEYS: 'not a key!' }, /STEWARD_TOPOLOGY_KEYS: must be a node label key/],
    [[], { STEWARD_TOPOLOGY_KEYS: ' , ' }, /at least one node label key/],
    [[], { STEWARD_PD_ENDPOINTS: '{"basic":"x"}' }, /STEWARD_PD_ENDPOINTS: must be JSON like/],
    [['--tls-cert-file', '/a'], {}, /must be given together/],
    [['--bogus', '1'], {}, /unknown flag --bogus/],
    [['--port'], {}, /flag --port needs a value/],
  ];
  for (const [argv, env, match] of table) t.throws(() => loadConfig(argv, env), { constructor: ConfigError, message: match }, `${argv.join(' ')} ${JSON.stringify(env)}`);
});

t.test('the in-call wait must end inside the admission budget; 0 turns it off', async (t) => {
  t.equal(loadConfig([], {}).admissionWaitMs, 3000);
  t.ok(loadConfig([], {}).admissionWaitMs < loadConfig([], {}).admissionBudgetMs, 'the defaults fit');
  t.equal(loadConfig(['--admission-wait-ms', '0', '--admission-budget-ms', '500'], {}).admissionWaitMs, 0);
  t.throws(() => loadConfig(['--admission-wait-ms', '4000'], {}), { constructor: ConfigError, message: /--admission-wait-ms \/ STEWARD_ADMISSION_WAIT_MS \(4000\) must be less than --admission-budget-ms \/ STEWARD_ADMISSION_BUDGET_MS \(4000\)/ });
  t.throws(() => loadConfig([], { STEWARD_ADMISSION_WAIT_MS: '-1' }), { constructor: ConfigError, message: /--admission-wait-ms/ });
});
