// @ts-check
// Lint: typescript-eslint's type-checked rules over the TypeScript sources. Formatting is prettier's
// (.prettierrc), so no rule here is about layout.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['src/generated/**', 'dist/**', 'reports/**', 'node_modules/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An unhandled rejection in a lease loop or a flusher kills the process: never let one float.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Async methods without an await are deliberate: they implement promise-returning interfaces
      // (Apollo plugin hooks, the tier interface) and turn a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // Input validation matches control characters on purpose (names, slugs, tokens).
      'no-control-regex': 'off',
      // `_name` marks a parameter an interface requires but this implementation does not use.
      // Passing a caught reason on unchanged (a timeout wrapper, autocannon's `err: any`, a failed setup) invents no non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // `let x; ... x = made;` where callbacks built in between read `x?.`: a const there would be in its TDZ.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Test bodies read parsed JSON responses and mocks, which are `any` by design.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Test and bench helpers are object literals of arrow functions, destructured; none uses `this`.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain JavaScript (this file, scripts/prisma.mjs) is outside tsconfig.json: no type information.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
