import type { Logger } from 'pino';

/**
 * Periodic work, in the shape of the JobRunner's JobDefinition (src/services/jobs.ts), so each
 * piece can be registered there. Until then `startPeriodic` drives them with unref'd timers.
 */
export interface PeriodicJob {
  /** Stable name, e.g. 'webhooks.deliver'. */
  name: string;
  intervalMs: number;
  /** One run; throwing records the error (logged, in health) and the job runs again after intervalMs. */
  run(signal: AbortSignal): Promise<void>;
}

export interface PeriodicHealth {
  ok: boolean;
  runs: number;
  lastRunAt?: string;
  lastError?: string;
}

/** Drives jobs with timers: no overlapping runs, unref'd (they never keep the process up), stopped and aborted by stop(). */
export class PeriodicTimers {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly state = new Map<string, PeriodicHealth>();
  private readonly abort = new AbortController();

  constructor(private readonly logger: Logger) {}

  start(job: PeriodicJob): void {
    this.state.set(job.name, { ok: true, runs: 0 });
    const timer = setInterval(() => void this.runNow(job), Math.max(10, job.intervalMs));
    timer.unref();
    this.timers.push(timer);
  }

  /** Runs a job now unless it is running already (then waits for that run). */
  runNow(job: PeriodicJob): Promise<void> {
    const busy = this.running.get(job.name);
    if (busy) return busy;
    const run = (async () => {
      const health = this.state.get(job.name) ?? { ok: true, runs: 0 };
      try {
        await job.run(this.abort.signal);
        this.state.set(job.name, { ok: true, runs: health.runs + 1, lastRunAt: new Date().toISOString() });
      } catch (err) {
        this.logger.error({ err, job: job.name }, 'periodic job failed; it runs again after its interval');
        this.state.set(job.name, { ok: false, runs: health.runs + 1, lastRunAt: new Date().toISOString(), lastError: (err as Error).message });
      } finally {
        this.running.delete(job.name);
      }
    })();
    this.running.set(job.name, run);
    return run;
  }

  health(): Record<string, PeriodicHealth> {
    return Object.fromEntries(this.state);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.abort.abort();
    await Promise.all([...this.running.values()]);
  }
}
