// Builds the sandbox kit's runtime files into dist/kit/: the Node preload as written, the two proxy
// agents it loads, each bundled with its dependencies into one self-contained file, and the Java
// agent's jar (committed, see scripts/build-java-agent.sh). The daemon copies them into
// <dataDir>/sandbox-kit/ (src/kit/sandbox-kit.ts).
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

await mkdir('dist/kit', { recursive: true });
await copyFile('src/kit/node-preload.cjs', 'dist/kit/node-preload.cjs');
await copyFile('src/kit/java/credproxy-java-agent.jar', 'dist/kit/credproxy-java-agent.jar');
await build({
  entryPoints: ['src/kit/node-fetch-proxy.cjs', 'src/kit/node-https-proxy.cjs'],
  outdir: 'dist/kit',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
