// drizzle-kit generate --config test/support/storage-fixture/drizzle.config.ts (from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './test/support/storage-fixture/schema.ts',
  out: './test/support/storage-fixture/migrations',
});
