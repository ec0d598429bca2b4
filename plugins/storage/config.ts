import * as v from 'valibot';

export const storageConfigSchema = v.strictObject({
  /**
   * The SQLite database file: relative to data_dir, absolute, or ":memory:" (tests; nothing survives
   * a restart). Defaults to `<data_dir>/iarnet.db`.
   */
  path: v.optional(v.pipe(v.string(), v.minLength(1, 'expected a file path or ":memory:"')), 'iarnet.db'),
});

export type StorageConfig = v.InferOutput<typeof storageConfigSchema>;
