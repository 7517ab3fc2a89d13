import type { Knex } from 'knex';
import * as identity from './001_identity';
import * as policy from './002_policy';
import * as publishing from './003_publishing';
import * as licenses from './004_licenses';
import * as requests from './005_requests';
import * as supplyChain from './006_supply_chain';
import * as loginThrottle from './007_login_throttle';
import * as inspections from './008_tarball_inspections';
import * as catalogue from './009_catalogue';
import * as malware from './010_malware';
import * as webhooksImpact from './011_webhooks_impact';
import * as jobs from './012_jobs';
import * as sso from './013_sso';
import * as usernameCase from './014_username_case';
import * as jobSuccess from './015_job_success';
import * as staleReservations from './016_stale_reservations';
import * as edgeRanges from './017_edge_ranges';

/**
 * Every migration, in order. Listed statically (not discovered on disk) so the same list
 * runs from the TypeScript sources under jest and from the compiled build.
 * Each migration has `up` and `down`.
 */
export interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export const migrations: ReadonlyArray<[string, Migration]> = [
  ['001_identity', identity],
  ['002_policy', policy],
  ['003_publishing', publishing],
  ['004_licenses', licenses],
  ['005_requests', requests],
  ['006_supply_chain', supplyChain],
  ['007_login_throttle', loginThrottle],
  ['008_tarball_inspections', inspections],
  ['009_catalogue', catalogue],
  ['010_malware', malware],
  ['011_webhooks_impact', webhooksImpact],
  ['012_jobs', jobs],
  ['013_sso', sso],
  ['014_username_case', usernameCase],
  ['015_job_success', jobSuccess],
  ['016_stale_reservations', staleReservations],
  ['017_edge_ranges', edgeRanges],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
