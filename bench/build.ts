import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The bench files that run in child processes; they import the daemon from dist/. */
const CHILD_SOURCES = ['proxy-child.ts', 'proxy-modes.ts', 'upstream-child.ts', 'seeded-daemon-child.ts', 'child-stats.ts', 'dist.ts'];
const ROOT = new URL('../', import.meta.url);
/** One level under the project root, like bench/, so `../dist/` and node_modules resolve the same. */
const OUT = new URL('.bench-build/', ROOT);

/**
 * Makes the benchmark's children runnable by plain `node`, so what is measured is production code:
 * `npm run build` (tsc → dist/) unless BENCH_SKIP_BUILD=1, then the child files transpiled to
 * JavaScript in .bench-build/ (removed by the returned cleanup). No tsx loader, no source maps.
 */
export async function buildBenchChildren(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    const build = spawnSync('npm', ['run', 'build'], { cwd: fileURLToPath(ROOT), stdio: 'inherit' });
    if (build.status !== 0) throw new Error(`npm run build failed (${build.status})`);
  }
  await mkdir(OUT, { recursive: true });
  for (const name of CHILD_SOURCES) {
    const source = await readFile(new URL(name, import.meta.url), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(new URL(name.replace(/\.ts$/, '.js'), OUT), outputText);
  }
  // The children are ES modules; the project's package.json says so one level up.
  return { dir: fileURLToPath(OUT), cleanup: () => rm(OUT, { recursive: true, force: true }) };
}
