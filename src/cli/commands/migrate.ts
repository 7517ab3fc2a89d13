import { migrateLatest, openDatabase } from '../../db/connection';
import { loadSettings } from '../../server/config';
import type { Command } from '../command';
import { migrationSource } from '../../../migrations';

export const migrate: Command = {
  name: 'migrate',
  usage: 'gatekeeper migrate [--rollback]',
  summary: 'Apply pending database migrations (or roll back the last batch)',
  booleanFlags: ['rollback'],
  async run({ args, io, env }) {
    const settings = loadSettings(env);
    const db = await openDatabase({ url: settings.databaseUrl, dataDir: settings.dataDir });
    try {
      if (args.flags.rollback) {
        const [, undone] = (await db.knex.migrate.rollback({ migrationSource })) as [number, string[]];
        io.out(undone.length ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back');
      } else {
        const applied = await migrateLatest(db.knex);
        io.out(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
      }
      return 0;
    } finally {
      await db.close();
    }
  },
};
