// One lint configuration for the whole monorepo.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importDirection } from './lint/import-direction.mjs';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.crucible/**', '**/coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  {
    // Who may import whom (README): apps → packages, contracts nothing of ours, web contracts + client.
    plugins: { crucible: { rules: { 'import-direction': importDirection } } },
    rules: { 'crucible/import-direction': 'error' },
  },
  {
    // A function that needs a scroll to read is several functions (STYLE.md). Product code only;
    // blank and comment lines do not count. Tests (a describe block is one long function), test
    // helpers and the frozen migrations are left out.
    files: ['apps/*/src/**/*.{ts,tsx}', 'packages/*/src/**/*.{ts,tsx}'],
    ignores: ['**/*.test.{ts,tsx}', '**/src/testing.ts', 'packages/db/src/migrations/**'],
    rules: { 'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Migrations are written against Kysely<any> (frozen; they must not follow today's types).
    files: ['packages/db/src/migrations/**/*.ts', 'packages/db/src/migrator.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
