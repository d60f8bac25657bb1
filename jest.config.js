// Two projects: unit specs live next to the code; e2e specs under test/ start TokenHub
// and fake upstreams over real HTTP against a real Postgres (or the embedded one).
const moduleNameMapper = {
  '^@tokenhub/(config|common|store|providers)$': '<rootDir>/libs/$1/src/index.ts',
};
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  // PGlite (the embedded store) uses dynamic import() of Node built-ins, which Jest's VM rejects.
  '/node_modules/@electric-sql/pglite/dist/.+\\.cjs$': '<rootDir>/test/jest/pglite-dynamic-import.js',
};
const transformIgnorePatterns = ['/node_modules/(?!@electric-sql/pglite/)'];
const base = { rootDir: __dirname, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json'], moduleNameMapper, transform, transformIgnorePatterns };

module.exports = {
  maxWorkers: 2,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/jest/e2e-timeout.js'] },
  ],
};
