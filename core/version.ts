import pkg from '../package.json' with { type: 'json' };

/** The IARNet version, from package.json (also reported by /metrics iarnet_build_info and the spec). */
export const VERSION: string = pkg.version;
