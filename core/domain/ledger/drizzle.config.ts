// drizzle-kit generate --config core/domain/ledger/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './core/domain/ledger/schema.ts',
  out: './core/domain/ledger/migrations',
});
