// A short run of `npm run fuzz` (which sends 100,000): the same mutations against the real HTTPS
// server process, the same checks.
import t from 'tap';
import { passed, runFuzz } from './fuzz/fuzz.ts';

// 10 s alone; a busy machine (CI beside other suites) can take three times that: not a timing test.
t.setTimeout(180_000);

t.test('1500 mutated AdmissionReview and ExtenderArgs bodies: no crash, no 5xx, well-formed admission replies echoing the uid', async (t) => {
  const report = await runFuzz({ total: 1500, concurrency: 8, seed: Number(process.env.FUZZ_SEED ?? 20261123) });
  t.equal(report.sent, 1500);
  t.equal(report.crashes, 0, 'the server process stayed up');
  t.equal(report.server_errors, 0, 'no 5xx');
  t.equal(report.transport_errors, 0, 'no dropped connection for a body within the limit');
  t.equal(report.admission_malformed, 0, 'every admission reply a well-formed AdmissionReview on HTTP 200');
  t.equal(report.uid_mismatch, 0, `uid echoed in all ${report.admission_with_uid} replies whose body carried one`);
  t.equal(report.extender_malformed, 0, 'every extender reply is JSON');
  t.ok(report.admission_with_uid > 300, `${report.admission_with_uid} admission bodies carried a uid`);
  t.ok(Object.keys(report.by_mutation).length >= 9, `mutations used: ${JSON.stringify(report.by_mutation)}`);
  t.ok(passed(report), report.failures.join('\n'));
});
