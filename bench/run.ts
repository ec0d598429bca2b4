/**
 * `npm run bench`: runs every benchmark and prints each figure beside its target.
 * Benchmarks report; they do not fail the test suite (targets are tracked in the issues).
 * `npm run bench -- kernel` runs only the benchmarks whose file name contains "kernel".
 */
const BENCHMARKS = [
  './kernel-overhead.ts',
  './run-overhead.ts',
  './admission.ts',
  './gossip.ts',
  './dashboard-budget.ts',
  './kubernetes-run.ts',
];

const filter = process.argv[2];
let missed = 0;
for (const file of BENCHMARKS.filter((f) => !filter || f.includes(filter))) {
  const mod = (await import(file)) as {
    run(): Promise<{ name: string; figure: string; target: string; pass: boolean }>;
  };
  const r = await mod.run();
  if (!r.pass) missed++;
  console.log(`${r.pass ? 'MET ' : 'MISS'}  ${r.name}\n      figure: ${r.figure}\n      target: ${r.target}`);
}
process.exitCode = missed ? 1 : 0;
