// ESLint for the TypeScript in lib/ (typescript-eslint, with type information) and the
// JavaScript around it (tests, CLI entry, bench, examples, scripts). Formatting is
// Prettier's business (npm run format:check), so no rule here is about layout.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'deps/', 'prebuilds/', 'node_modules/', 'esm/index.d.mts'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['test/**/*.js'],
    languageOptions: { globals: { ...globals.mocha } },
  },
  {
    files: ['lib/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    // An unused argument kept for its position is named with a leading underscore.
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Tests and the kernel table match terminal escapes on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A method is async so that it returns a promise its interface promises and turns a
      // throw into a rejection, awaiting or not.
      '@typescript-eslint/require-await': 'off',
      // Failures caught as unknown are stored and rethrown as they came.
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
);
