const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');

/**
 * PGlite's CommonJS build loads Node built-ins with `await import("fs")` and the like.
 * Jest runs modules in a VM that cannot execute a dynamic import() unless Node is started
 * with --experimental-vm-modules, so the embedded store would fail to open under Jest.
 * This transform rewrites those literal built-in imports to require() (the file shadows
 * `require` in places, hence the alias), which behaves the same for built-ins.
 */
const self = readFileSync(__filename);

module.exports = {
  getCacheKey(source, path) {
    return createHash('sha256').update(self).update(path).update(source).digest('hex');
  },
  process(source) {
    const code = source.replace(/(?<![\w$.])import\(("(?:node:)?[a-z/_]+")\)/g, 'Promise.resolve(__jestRequireBuiltin($1))');
    return { code: `const __jestRequireBuiltin = require;${code}` };
  },
};
