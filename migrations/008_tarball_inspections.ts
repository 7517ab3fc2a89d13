import type { Knex } from 'knex';

/**
 * What reading each version's tarball found (its own package.json, binding.gyp) and how it
 * differs from the manifest the packument or the publish declared. Written once per
 * version, on the first tarball fetch from the upstream or at publish; decisions use it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tarball_inspections', (t) => {
    t.text('package').notNullable();
    t.text('version').notNullable();
    t.text('source').notNullable();
    t.text('integrity').notNullable();
    t.jsonb('manifest').notNullable();
    t.boolean('has_binding_gyp').notNullable();
    t.jsonb('mismatches').notNullable();
    t.timestamp('inspected_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['package', 'version']);
  });
  await knex.raw(`ALTER TABLE tarball_inspections ADD CONSTRAINT tarball_inspections_source CHECK (source IN ('upstream', 'publish'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('tarball_inspections');
}
