#!/usr/bin/env node
// The test runner behind `npm test`.
//
// Node 20's `node --test` neither expands globs nor discovers .ts files, so this script finds
// test/**/*.test.ts itself and hands the list to `node --import tsx --test`.
//
//   node test/run.mjs                 every test file
//   node test/run.mjs pika unit/      only files whose path contains "pika" or "unit/"
//   node test/run.mjs --test-name-pattern=feed pika
//                                     arguments starting with "--" go to `node --test` unchanged
//   TEST_CONCURRENCY=1 node test/run.mjs
//                                     passed on as --test-concurrency=1
//
// The end-to-end tests start the bot as `npm start` does, from `dist/`: the runner builds it
// first (incrementally, a second or two when nothing changed), so it is never older than the source.
//
// Besides node's exit code, the run fails when no test ran at all: a filter that matches only
// empty files, or files whose tests never registered, must not look like a green build.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(projectRoot, 'test');

/** Every *.test.ts below `dir`, as sorted project-relative paths with forward slashes. */
function findTestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTestFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(relative(projectRoot, path).split(sep).join('/'));
  }
  return found.sort();
}

/** `--test-concurrency=N` from TEST_CONCURRENCY, or [] when it is unset. Throws if it is not a number. */
function concurrencyFlags() {
  const value = process.env.TEST_CONCURRENCY;
  if (value === undefined || value === '') return [];
  if (!/^[1-9]\d*$/.test(value)) throw new RunnerError(`TEST_CONCURRENCY must be a positive integer, got "${value}"`);
  return [`--test-concurrency=${value}`];
}

/**
 * How many real tests a TAP report counts, or undefined if it has no `# tests N` summary.
 * Node 20 reports a test file that registered no tests as one passing "test" named after the
 * file's absolute path; those placeholders are not tests, so they are subtracted.
 */
function countTestsRun(tapFile, absoluteFiles) {
  let tap;
  try {
    tap = readFileSync(tapFile, 'utf8');
  } catch {
    return undefined;
  }
  // Anchored at column 0: indented lines belong to nested subtests.
  const total = [...tap.matchAll(/^# tests (\d+)$/gm)].at(-1);
  if (!total) return undefined;
  const placeholders = [...tap.matchAll(/^ok \d+ - (.+)$/gm)].filter((m) => absoluteFiles.has(m[1])).length;
  return Number(total[1]) - placeholders;
}

/** `npm run build`'s compiler run, with the same Node as the tests. */
function buildBot() {
  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const { status, signal } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: projectRoot, stdio: 'inherit' });
  if (status !== 0) throw new RunnerError(`building dist/ failed (${signal ?? `exit ${status}`})`);
}

/** Runs node's test runner with a spec report on the terminal and a TAP copy in `tapFile`. */
function runNodeTest(files, nodeFlags, tapFile) {
  const args = [
    '--import', 'tsx',
    '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...nodeFlags,
    ...files,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: projectRoot, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Exit code for a child that ended by `signal`, the way shells report it (128 + number). */
function signalExitCode(signal) {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/** A reason to fail the run that node's own output does not already explain. */
class RunnerError extends Error {}

function selectFiles(filters) {
  const allFiles = findTestFiles(testDir);
  const files = filters.length === 0 ? allFiles : allFiles.filter((file) => filters.some((f) => file.includes(f)));
  if (files.length > 0) return files;
  const what = filters.length === 0
    ? 'no test/**/*.test.ts files exist'
    : `no test file path contains ${filters.map((f) => `"${f}"`).join(' or ')}`;
  throw new RunnerError(`${what} (${allFiles.length} test file(s) in total)`);
}

/** Exit code for node's run; fails a "successful" run in which no test ran. */
function checkOutcome({ code, signal }, tapFile, files) {
  if (signal) return signalExitCode(signal);
  // Checked only on success: after a failure node's own summary already says what went wrong.
  if (code !== 0) return code ?? 1;
  const testCount = countTestsRun(tapFile, new Set(files.map((file) => join(projectRoot, file))));
  if (testCount === undefined) throw new RunnerError('the test runner wrote no summary; cannot tell whether any test ran');
  if (testCount === 0) throw new RunnerError(`no tests ran in ${files.length} file(s): ${files.join(', ')}`);
  return 0;
}

async function main() {
  const cliArgs = process.argv.slice(2);
  const files = selectFiles(cliArgs.filter((arg) => !arg.startsWith('--')));
  buildBot();
  const nodeFlags = [...concurrencyFlags(), ...cliArgs.filter((arg) => arg.startsWith('--'))];
  const tapDir = mkdtempSync(join(tmpdir(), 'pika-discord-test-'));
  const tapFile = join(tapDir, 'report.tap');
  try {
    return checkOutcome(await runNodeTest(files, nodeFlags, tapFile), tapFile, files);
  } finally {
    rmSync(tapDir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  if (!(error instanceof RunnerError)) throw error;
  console.error(`\n✖ test/run.mjs: ${error.message}`);
  process.exitCode = 1;
}
