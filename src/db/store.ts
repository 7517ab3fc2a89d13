import type { Knex } from 'knex';
import { AdvisoryRepository } from './repositories/advisories';
import { AuditRepository } from './repositories/audit';
import { CatalogueRepository } from './repositories/catalogue';
import { ImpactRepository } from './repositories/impact';
import { InspectionRepository } from './repositories/inspections';
import { JobRepository } from './repositories/jobs';
import { LoginThrottleRepository } from './repositories/login-throttle';
import { PolicyRepository } from './repositories/policy';
import { SsoLoginRepository } from './repositories/sso-logins';
import { PublishingRepository } from './repositories/publishing';
import { RequestLimitRepository } from './repositories/request-limits';
import { ProjectRepository, RequestRepository } from './repositories/requests';
import { TagRepository } from './repositories/tags';
import { TokenRepository } from './repositories/tokens';
import { UserRepository } from './repositories/users';
import { WebhookRepository } from './repositories/webhooks';

/** The repositories, bound to one executor: the pool or a transaction. */
export interface Repositories {
  users: UserRepository;
  /** Scheduled background jobs and their leases (services/jobs.ts). */
  jobs: JobRepository;
  tokens: TokenRepository;
  audit: AuditRepository;
  policy: PolicyRepository;
  publishing: PublishingRepository;
  requests: RequestRepository;
  projects: ProjectRepository;
  advisories: AdvisoryRepository;
  loginThrottle: LoginThrottleRepository;
  ssoLogins: SsoLoginRepository;
  inspections: InspectionRepository;
  tags: TagRepository;
  catalogue: CatalogueRepository;
  requestLimits: RequestLimitRepository;
  impact: ImpactRepository;
  webhooks: WebhookRepository;
}

function bind(db: Knex): Repositories {
  return {
    users: new UserRepository(db),
    jobs: new JobRepository(db),
    tokens: new TokenRepository(db),
    audit: new AuditRepository(db),
    policy: new PolicyRepository(db),
    publishing: new PublishingRepository(db),
    requests: new RequestRepository(db),
    projects: new ProjectRepository(db),
    advisories: new AdvisoryRepository(db),
    inspections: new InspectionRepository(db),
    loginThrottle: new LoginThrottleRepository(db),
    ssoLogins: new SsoLoginRepository(db),
    tags: new TagRepository(db),
    catalogue: new CatalogueRepository(db),
    requestLimits: new RequestLimitRepository(db),
    impact: new ImpactRepository(db),
    webhooks: new WebhookRepository(db),
  };
}

export class Store {
  readonly repos: Repositories;

  /** `longKnex`: the pool longTransaction runs on, without the request pool's deadlines (default: `knex`). */
  constructor(
    readonly knex: Knex,
    private readonly longKnex: Knex = knex,
  ) {
    this.repos = bind(knex);
  }

  /** Runs `fn` in one transaction; everything it does commits or rolls back together. */
  transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.knex.transaction((trx) => fn(bind(trx)));
  }

  /**
   * Like transaction(), without the pool's statement and lock deadline (GATEKEEPER_DATABASE_TIMEOUT):
   * for background work that may rightly take longer (a bulk advisory import, a feed import).
   * Runs on the long pool, whose client deadline is far longer (start.ts makes it; a Store made
   * without it uses its only pool, where `SET LOCAL` lifts the server's deadlines only). The
   * process runs such work one transaction at a time.
   */
  longTransaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    // One at a time, in the order asked: a third bulk import waits its turn here, not for a
    // pool connection (whose acquire timeout would refuse it as "the database is unavailable").
    const run = this.longWork.then(() =>
      this.longKnex.transaction(async (trx) => {
        await trx.raw('set local statement_timeout = 0; set local lock_timeout = 0');
        return fn(bind(trx));
      }),
    );
    this.longWork = run.catch(() => undefined);
    return run;
  }

  private longWork: Promise<unknown> = Promise.resolve();

  /** `select 1`; with `timeoutMs`, rejects when it has not answered by then (a pool exhausted by blocked queries, a hung link). */
  async ping(timeoutMs = 0): Promise<void> {
    const query = this.knex.raw('select 1');
    if (timeoutMs <= 0) {
      await query;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        query,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the database did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
