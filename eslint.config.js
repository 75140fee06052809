// Lint for src/, test/, bench/ and scripts/: ESLint's and typescript-eslint's recommended rules.
// `npm run lint`; .ci/run runs it before the suite.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node's globals for the plain-JS files (TypeScript files get them from @types/node). */
const NODE_GLOBALS = Object.fromEntries(
  [
    'console',
    'process',
    'Buffer',
    'URL',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'performance',
    'fetch',
    'AbortSignal',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/', '.tmp/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused: a rest destructuring that drops a field, a callback's slot.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: NODE_GLOBALS },
  },
  {
    // The sandbox kit's preloads run inside other programs as CommonJS (node -r, NODE_OPTIONS).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...NODE_GLOBALS, require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests that patch a prototype keep the instance the patched method was called on.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-this-alias': 'off' },
  },
);
