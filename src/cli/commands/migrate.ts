import { migrateLatest, openDatabase } from '../../db/connection';
import { loadSettings } from '../../server/config';
import { line } from '../output';
import type { Command } from '../command';
import { migrationSource } from '../../../migrations';

export const migrate: Command = {
  name: 'migrate',
  forms: ['[--rollback]'],
  flags: { rollback: {} },
  summary: 'Apply pending database migrations (or roll back the last batch)',
  async run({ args, io, env }) {
    const settings = loadSettings(env);
    const db = await openDatabase({ url: settings.databaseUrl, dataDir: settings.dataDir });
    try {
      if (args.flags.rollback) {
        const [, undone] = (await db.knex.migrate.rollback({ migrationSource })) as [number, string[]];
        io.out(undone.length ? line`rolled back: ${undone.join(', ')}` : 'nothing to roll back');
      } else {
        const applied = await migrateLatest(db.knex);
        io.out(applied.length ? line`applied: ${applied.join(', ')}` : 'the database is up to date');
      }
      return 0;
    } finally {
      await db.close();
    }
  },
};
