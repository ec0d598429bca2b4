/** Tables of the storage tests' fake owner "fixture". Two migrations, so ordering is exercised. */
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const counters = sqliteTable('fixture_counters', {
  name: text('name').primaryKey(),
  value: integer('value').notNull().default(0),
});

/** References counters, so foreign-key enforcement can be checked on every driver. */
export const items = sqliteTable('fixture_items', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  counter: text('counter')
    .notNull()
    .references(() => counters.name),
  label: text('label').notNull(),
});
