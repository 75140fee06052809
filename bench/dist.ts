import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// The bench children run the COMPILED daemon (dist/, built by `npm run build`), so the figures are
// production's, not tsx's. BENCH_DIST=<dir> points them at another build, to compare two. Run as
// TypeScript (tests start bench/proxy-child.ts under tsx), they load the sources instead: no build needed.
const DIST = process.env.BENCH_DIST
  ? pathToFileURL(`${resolve(process.env.BENCH_DIST)}/`)
  : new URL(import.meta.url.endsWith('.ts') ? '../src/' : '../dist/', import.meta.url);

/** Imports a compiled module, e.g. `dist<typeof import('../src/main.js')>('main.js')`: types from src/, code from dist/. */
export function dist<T>(path: string): Promise<T> {
  return import(new URL(path, DIST).href) as Promise<T>;
}
