// Lint: typescript-eslint's recommended rules, plus the one architectural rule DESIGN §2 insists on:
// workflows import only @temporalio/workflow and *types* of activities.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.entroscope/**', 'dist/**', 'dist.*/**', '.build/**', 'scratch/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflows are replayed deterministically: they may import @temporalio/workflow, sibling
    // workflow files, and *types* from anywhere (activities, specs) — nothing with runtime I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(?!@temporalio/workflow$|\\./)',
          allowTypeImports: true,
          message: 'workflows import only @temporalio/workflow, sibling workflow files and types',
        }],
      }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
