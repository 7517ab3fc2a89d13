'use strict';
// A JobRunner (src/services/jobs.ts, from the build output) in a process of its own, so a
// test can run several on one database and kill one with SIGKILL (test/integration/jobs.test.ts).
// Usage: node job-runner-process.js '<JSON>' with
//   { url, instanceId, leaseMs, pollMs, jobs: [{ name, intervalMs, holdMs? }] }
// Every run writes rows into job_test_events (the test creates the table): 'start' when it
// begins (with its claim and the claim's start by the database's clock) and, for a job with
// holdMs, 'end' after holding that long in steps (aborting when its signal says so).
// Prints {"ready":true} once started; stops the runner and exits on SIGTERM.
const { createKnex } = require('../../dist/src/db/connection.js');
const { Store } = require('../../dist/src/db/store.js');
const { JobRunner } = require('../../dist/src/services/jobs.js');

const config = JSON.parse(process.argv[2]);
const knex = createKnex(config.url, 4);
const store = new Store(knex);
const log = (level) => (obj, msg) => process.stderr.write(`${JSON.stringify({ level, instance: config.instanceId, ...(typeof obj === 'string' ? { msg: obj } : { ...obj, msg }) })}\n`);
const logger = { info: log('info'), warn: log('warn'), error: log('error'), debug: () => undefined };

const record = (job, context, event) =>
  knex('job_test_events').insert({ job, instance: config.instanceId, claim: context.claim, started_at: context.startedAt, event, takeover: context.takeover });

const runner = new JobRunner(store, logger, { instanceId: config.instanceId, leaseMs: config.leaseMs, pollMs: config.pollMs });
for (const job of config.jobs) {
  runner.register({
    name: job.name,
    intervalMs: job.intervalMs,
    run: async (signal, context) => {
      await record(job.name, context, 'start');
      if (!job.holdMs) return;
      const step = 50;
      for (let held = 0; held < job.holdMs; held += step) {
        if (signal.aborted) throw new Error(`aborted: ${signal.reason && signal.reason.message}`);
        await new Promise((resolve) => setTimeout(resolve, step));
      }
      await record(job.name, context, 'end');
    },
  });
}
runner.start();
// The runner's timers are unref'd (they never keep a gatekeeper up); this process lives until it is stopped.
const keepAlive = setInterval(() => undefined, 1 << 30);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  runner
    .stop()
    .then(() => knex.destroy())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
