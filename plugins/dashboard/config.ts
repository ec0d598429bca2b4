import * as v from 'valibot';

export const dashboardConfigSchema = v.strictObject({
  /** Folder of the built dashboard (vite build output); empty: web/dist of this installation. */
  dir: v.optional(v.string(), ''),
});
