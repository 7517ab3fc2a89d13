import type { Knex } from 'knex';
import { chunks } from '../batch';
import { Page, toPage } from '../pagination';

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'cancelled';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['pending', 'approved', 'rejected', 'cancelled'];

export interface PackageRequest {
  id: number;
  name: string;
  range: string;
  reason: string;
  requester: string;
  status: RequestStatus;
  sourceRequestId: number | null;
  withDependencies: boolean;
  checks: Record<string, unknown>;
  summary: string;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  comment: string | null;
  approvalId: number | null;
}

interface RequestRow {
  id: number;
  name: string;
  range: string;
  reason: string;
  requester: string;
  status: RequestStatus;
  source_request_id: number | null;
  with_dependencies: boolean;
  checks: Record<string, unknown>;
  summary: string;
  created_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  comment: string | null;
  approval_id: number | null;
}

function toRequest(row: RequestRow): PackageRequest {
  return {
    id: row.id,
    name: row.name,
    range: row.range,
    reason: row.reason,
    requester: row.requester,
    status: row.status,
    sourceRequestId: row.source_request_id,
    withDependencies: row.with_dependencies,
    checks: row.checks,
    summary: row.summary,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
    comment: row.comment,
    approvalId: row.approval_id,
  };
}

export interface NewRequest {
  name: string;
  range: string;
  reason: string;
  requester: string;
  sourceRequestId?: number | null;
  withDependencies?: boolean;
  checks?: Record<string, unknown>;
  summary?: string;
}

function requestRow(r: NewRequest) {
  return {
    name: r.name,
    range: r.range,
    reason: r.reason,
    requester: r.requester,
    source_request_id: r.sourceRequestId ?? null,
    with_dependencies: r.withDependencies ?? false,
    checks: JSON.stringify(r.checks ?? {}) as unknown as Record<string, unknown>,
    summary: r.summary ?? '',
  };
}

export class RequestRepository {
  constructor(private readonly db: Knex) {}

  /** Throws the unique violation (23505) of package_requests_one_pending for a duplicate open request. */
  async save(r: NewRequest): Promise<PackageRequest> {
    const [row] = await this.db<RequestRow>('package_requests').insert(requestRow(r)).returning('*');
    return toRequest(row);
  }

  /** Saves many requests, in statements of at most ROWS_PER_STATEMENT rows; in input order. */
  async saveMany(requests: readonly NewRequest[]): Promise<PackageRequest[]> {
    const out: PackageRequest[] = [];
    for (const part of chunks(requests)) {
      const rows = (await this.db<RequestRow>('package_requests').insert(part.map(requestRow)).returning('*')) as RequestRow[];
      out.push(...rows.sort((a, b) => a.id - b.id).map(toRequest));
    }
    return out;
  }

  /** The open requests among these name/range pairs, keyed `name@range`; a few hundred pairs per query. */
  async findPendingMany(specs: ReadonlyArray<{ name: string; range: string }>): Promise<Map<string, PackageRequest>> {
    const out = new Map<string, PackageRequest>();
    for (const part of chunks(specs, 500)) {
      const rows = (await this.db<RequestRow>('package_requests')
        .where({ status: 'pending' })
        .whereIn(['name', 'range'], part.map((s) => [s.name, s.range]))) as RequestRow[];
      for (const row of rows) out.set(`${row.name}@${row.range}`, toRequest(row));
    }
    return out;
  }

  async find(id: number): Promise<PackageRequest | undefined> {
    const row = await this.db<RequestRow>('package_requests').where({ id }).first();
    return row ? toRequest(row) : undefined;
  }

  /**
   * The request with its row locked until the transaction ends, for deciding it: a concurrent
   * decision waits for this one and then reads it decided (never both deciding one request).
   */
  async findForDecision(id: number): Promise<PackageRequest | undefined> {
    const row = await this.db<RequestRow>('package_requests').where({ id }).forUpdate().first();
    return row ? toRequest(row) : undefined;
  }

  /** The child requests, their rows locked until the transaction ends (see findForDecision). */
  async childrenForDecision(sourceRequestId: number): Promise<PackageRequest[]> {
    return (await this.db<RequestRow>('package_requests').where({ source_request_id: sourceRequestId }).orderBy('id').forUpdate()).map(toRequest);
  }

  async findPending(name: string, range: string): Promise<PackageRequest | undefined> {
    const row = await this.db<RequestRow>('package_requests').where({ name, range, status: 'pending' }).first();
    return row ? toRequest(row) : undefined;
  }

  async children(sourceRequestId: number): Promise<PackageRequest[]> {
    return (await this.db<RequestRow>('package_requests').where({ source_request_id: sourceRequestId }).orderBy('id')).map(toRequest);
  }

  async list(filter: { status?: RequestStatus; requester?: string; after?: number; limit: number }): Promise<Page<PackageRequest>> {
    const query = this.db<RequestRow>('package_requests').orderBy('id').limit(filter.limit + 1);
    if (filter.status) query.where('status', filter.status);
    if (filter.requester) query.where('requester', filter.requester);
    if (filter.after !== undefined) query.where('id', '>', filter.after);
    const page = toPage(await query, filter.limit);
    return { items: page.items.map(toRequest), nextCursor: page.nextCursor };
  }

  /** Moves a pending request on; returns undefined if it was not pending any more. */
  async decide(id: number, change: { status: RequestStatus; by: string; comment?: string | null; approvalId?: number | null }): Promise<PackageRequest | undefined> {
    const [row] = await this.db<RequestRow>('package_requests')
      .where({ id, status: 'pending' })
      .update({ status: change.status, decided_by: change.by, decided_at: this.db.fn.now() as unknown as Date, comment: change.comment ?? null, approval_id: change.approvalId ?? null })
      .returning('*');
    return row ? toRequest(row) : undefined;
  }
}

export interface ProjectMember {
  name: string;
  version: string;
  integrity?: string | null;
  dev?: boolean;
}

export class ProjectRepository {
  constructor(private readonly db: Knex) {}

  /**
   * Records (or re-records) name@version with exactly these members. With `onlyOwn`, a
   * name@version someone else recorded is left as it is and `{recordedBy}` names them: the
   * check is the upsert's own condition, so two first recordings at once cannot overwrite each
   * other either.
   */
  async save(
    project: { name: string; version: string; lockfileFormat: string; recordedBy: string },
    members: ProjectMember[],
    options: { onlyOwn?: boolean } = {},
  ): Promise<number | { recordedBy: string }> {
    const upsert = this.db('projects')
      .insert({ name: project.name, version: project.version, lockfile_format: project.lockfileFormat, recorded_by: project.recordedBy })
      .onConflict(['name', 'version'])
      .merge({ lockfile_format: project.lockfileFormat, recorded_by: project.recordedBy, recorded_at: this.db.fn.now() });
    const [row] = await (options.onlyOwn ? upsert.where('projects.recorded_by', project.recordedBy) : upsert).returning('id');
    if (!row) {
      const other = await this.db('projects').where({ name: project.name, version: project.version }).first('recorded_by');
      return { recordedBy: String(other?.recorded_by ?? 'another user') };
    }
    const id = row.id as number;
    await this.db('project_packages').where({ project_id: id }).del();
    for (const part of chunks(members)) {
      await this.db('project_packages').insert(part.map((m) => ({ project_id: id, name: m.name, version: m.version, integrity: m.integrity ?? null, dev: m.dev ?? false })));
    }
    return id;
  }

  async usage(name: string, version?: string): Promise<Array<{ project: string; projectVersion: string; version: string; integrity: string | null; dev: boolean; recordedAt: Date }>> {
    const query = this.db('project_packages as m')
      .join('projects as p', 'p.id', 'm.project_id')
      .where('m.name', name)
      .orderBy([{ column: 'p.name' }, { column: 'p.version' }])
      .select('p.name as project', 'p.version as projectVersion', 'm.version', 'm.integrity', 'm.dev', 'p.recorded_at as recordedAt');
    if (version) query.where('m.version', version);
    return query;
  }
}
