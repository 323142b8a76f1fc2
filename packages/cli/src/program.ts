import { Command, CommanderError, Option } from 'commander';
import { Connection } from './connection.js';
import type { ConnectionFlags } from './connection.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from './exit-codes.js';
import { DEFAULT_CHECKS_FILES, checksFilePath, grepChecks, loadChecksFile } from './checks-file.js';
import { deploy } from './deploy.js';
import { processOutput } from './output.js';
import type { Output } from './output.js';
import { reportOf } from './report.js';
import { runChecks } from './run-checks.js';
import { TEST_TYPES, buildConfig, parseDuration, parseIntFlag } from './submission.js';
import type { CheckSpec } from './submission.js';
import { formatNumber, formatSummary } from './summary.js';
import { version } from './version.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function connectionOptions(command: Command): Command {
  return command
    .option('--url <url>', "Crucible's address (env CRUCIBLE_URL, default http://localhost:3000)")
    .option('--token <key>', 'an API key (env CRUCIBLE_TOKEN)')
    .option(
      '--ws-url <url>',
      'the WebSocket gateway (env CRUCIBLE_WS_URL, default: where GET <url>/api/meta says)',
    );
}

function reportOptions(command: Command): Command {
  return command
    .option('--json <file>', 'write the summary as JSON (schemas/summary.schema.json)')
    .option('--junit <file>', 'write JUnit XML: one <testsuite> per check, one <testcase> per threshold')
    .option('--timeout <duration>', 'cancel and exit 3 if a test has not finished by then (90s, 10m, 1h)')
    .option('-q, --quiet', 'no progress, only the summary');
}

interface RunFlags extends ConnectionFlags {
  type: CheckSpec['type'];
  target: string;
  config?: string[];
  configFile?: string;
  threshold?: string[];
  runs?: string;
  baseline?: string;
  failOnRegression?: boolean;
  priority?: string;
  name?: string;
  timeout?: string;
  json?: string;
  junit?: string;
  quiet?: boolean;
  idempotencyKey?: string;
}

function runCommand(output: Output, setCode: (code: number) => void): Command {
  const command = new Command('run')
    .description('submit one test, follow it live and print its result')
    .addOption(new Option('--type <type>', 'the test type').choices(TEST_TYPES).makeOptionMandatory())
    .requiredOption('--target <url>', 'the URL to test')
    .option('--config <key=value>', 'a config field (JSON value or text; a.b=… nests); repeatable', collect)
    .option('--config-file <file>', 'the config as a JSON or YAML file (--config overrides it)')
    .option('--threshold <expr>', 'e.g. "latency.p95 < 300"; repeatable; an unknown metric exits 2', collect)
    .option('--runs <n>', 'measure the target n times (1-10) within the one test')
    .option('--baseline <previous|id>', 'compare with your previous test of this type and URL, or a test id')
    .option('--fail-on-regression', 'a regression against the baseline exits 1')
    .option('--priority <n>', 'queue priority 0-10 (default 5)')
    .option('--name <name>', 'a name for the test')
    .option(
      '--idempotency-key <key>',
      'reuse a key so a retried CI step answers the first test (env CRUCIBLE_IDEMPOTENCY_KEY)',
    );
  connectionOptions(reportOptions(command));
  return command.action(async (flags: RunFlags) => {
    const connection = new Connection(flags);
    const spec: CheckSpec = {
      type: flags.type,
      target: flags.target,
      name: flags.name,
      config: buildConfig(flags.config ?? [], flags.configFile),
      thresholds: flags.threshold,
      runs: flags.runs === undefined ? undefined : parseIntFlag(flags.runs, '--runs', 1, 10),
      baseline: flags.baseline,
      failOnRegression: flags.failOnRegression,
      priority: flags.priority === undefined ? undefined : parseIntFlag(flags.priority, '--priority', 0, 10),
    };
    setCode(
      await runChecks(connection, [spec], output, {
        concurrency: 1,
        timeoutMs: flags.timeout === undefined ? undefined : parseDuration(flags.timeout),
        quiet: Boolean(flags.quiet),
        json: flags.json,
        junit: flags.junit,
        idempotencyKey: flags.idempotencyKey ?? output.env.CRUCIBLE_IDEMPOTENCY_KEY,
      }),
    );
  });
}

function testCommand(output: Output, setCode: (code: number) => void): Command {
  const command = new Command('test')
    .description('run every check of a checks file (JSON or YAML; schemas/checks.schema.json) in parallel')
    .option(
      '-f, --file <file>',
      `the checks file (default: ${DEFAULT_CHECKS_FILES.join(', ')}, the first found)`,
    )
    .option('--concurrency <n>', 'checks running at once', '4')
    .option('--grep <pattern>', 'only the checks whose name matches (a regular expression, any case)');
  connectionOptions(reportOptions(command));
  return command.action(async (flags: ConnectionFlags & Record<string, string | boolean | undefined>) => {
    const file = checksFilePath(flags.file as string | undefined);
    const checks = grepChecks(loadChecksFile(file), flags.grep as string | undefined);
    const connection = new Connection(flags);
    setCode(
      await runChecks(connection, checks, output, {
        concurrency: parseIntFlag(String(flags.concurrency), '--concurrency', 1, 50),
        timeoutMs: flags.timeout === undefined ? undefined : parseDuration(String(flags.timeout)),
        quiet: Boolean(flags.quiet),
        json: flags.json as string | undefined,
        junit: flags.junit as string | undefined,
      }),
    );
  });
}

function deployCommand(output: Output, setCode: (code: number) => void): Command {
  const command = new Command('deploy')
    .description(
      "make the workspace's monitors match the checks file: each check with a schedule is a monitor, " +
        'created or updated by its name; running it again changes nothing',
    )
    .option(
      '-f, --file <file>',
      `the checks file (default: ${DEFAULT_CHECKS_FILES.join(', ')}, the first found)`,
    )
    .option(
      '--prune',
      'delete the monitors a deploy made that the file no longer lists (never one made by hand)',
    )
    .option('--dry-run', 'print what would be created, updated and deleted, and change nothing');
  return connectionOptions(command).action(
    async (flags: ConnectionFlags & { file?: string; prune?: boolean; dryRun?: boolean }) => {
      const file = checksFilePath(flags.file);
      const checks = loadChecksFile(file);
      const connection = new Connection(flags);
      setCode(
        await deploy(connection, checks, output, {
          file,
          prune: Boolean(flags.prune),
          dryRun: Boolean(flags.dryRun),
        }),
      );
    },
  );
}

function listCommand(output: Output): Command {
  const command = new Command('list')
    .description('your tests, newest first')
    .addOption(
      new Option('--status <status>', 'only these').choices([
        'queued',
        'running',
        'completed',
        'failed',
        'cancelled',
      ]),
    )
    .addOption(new Option('--type <type>', 'only this test type').choices(TEST_TYPES))
    .option('--limit <n>', 'how many (1-100)', '20')
    .option('--json', "the API's answer as JSON");
  return connectionOptions(command).action(
    async (flags: ConnectionFlags & Record<string, string | undefined>) => {
      const connection = new Connection(flags);
      const page = await connection.call('listTests', {
        query: {
          status: flags.status as never,
          testType: flags.type as never,
          limit: parseIntFlag(String(flags.limit), '--limit', 1, 100),
        },
      });
      if (flags.json) return void output.out.write(`${JSON.stringify(page, null, 2)}\n`);
      if (page.items.length === 0) return void output.out.write('no tests\n');
      const rows = [
        ['ID', 'TYPE', 'STATUS', 'VERDICT', 'CREATED', 'TARGET'],
        ...page.items.map((t) => [
          t.testId,
          t.testType,
          t.status,
          t.verdict ?? '–',
          t.createdAt.slice(0, 19).replace('T', ' '),
          t.url,
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        output.out.write(
          `${r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
    },
  );
}

function idCommand(
  name: string,
  description: string,
  output: Output,
  act: (c: Connection, id: string) => Promise<string>,
): Command {
  const command = new Command(name).description(description).argument('<id>', 'the test id');
  return connectionOptions(command).action(async (id: string, flags: ConnectionFlags) => {
    output.out.write(`${await act(new Connection(flags), id)}\n`);
  });
}

function showCommand(output: Output): Command {
  const command = new Command('show')
    .description("a test's status and result summary")
    .argument('<id>', 'the test id')
    .option('--json', "the API's answer as JSON");
  return connectionOptions(command).action(
    async (id: string, flags: ConnectionFlags & { json?: boolean }) => {
      const connection = new Connection(flags);
      const test = await connection.call('getTest', { params: { jobId: id } });
      if (flags.json) return void output.out.write(`${JSON.stringify(test, null, 2)}\n`);
      if (test.status === 'queued' || test.status === 'running') {
        const where =
          test.status === 'queued' && test.queuePosition !== null
            ? `, position ${test.queuePosition} in the queue`
            : `, ${formatNumber(test.progress)} %`;
        return void output.out.write(
          `${test.testId} ${test.testType} ${test.url}: ${test.status}${where}\n${connection.testPage(id)}\n`,
        );
      }
      const spec: CheckSpec = { type: test.testType, target: test.url, name: test.name ?? undefined };
      output.out.write(formatSummary(reportOf(spec, test, connection.testPage(id)), test, output.colors));
    },
  );
}

/** The whole command line; `setCode` receives the exit code of commands that have their own. */
export function buildProgram(output: Output, setCode: (code: number) => void): Command {
  const program = new Command('crucible')
    .description(
      'Run Crucible tests from a terminal or a CI pipeline: live progress, thresholds, exit codes, JUnit/JSON reports.',
    )
    .version(version, '-V, --version')
    .showHelpAfterError('(crucible --help for usage)')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\n\nEnvironment: CRUCIBLE_URL, CRUCIBLE_TOKEN, CRUCIBLE_WS_URL, NO_COLOR, GITHUB_ACTIONS, GITHUB_STEP_SUMMARY`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out.write(s), writeErr: (s) => output.err.write(s) });
  for (const command of [
    runCommand(output, setCode),
    testCommand(output, setCode),
    deployCommand(output, setCode),
    listCommand(output),
    showCommand(output),
    idCommand('cancel', 'cancel a queued or running test', output, async (c, id) => {
      const r = await c.call('cancelTest', { params: { testId: id } });
      return `${r.testId} ${r.status}`;
    }),
    idCommand('retry', 'run a failed or cancelled test again', output, async (c, id) => {
      const r = await c.call('retryTest', { params: { jobId: id } });
      return `${r.testId} ${r.status}${r.queuePosition === null ? '' : `, position ${r.queuePosition}`}\n${c.testPage(r.testId)}`;
    }),
  ]) {
    command
      .addHelpText('after', EXIT_CODES_HELP)
      .exitOverride()
      .configureOutput({ writeOut: (s) => output.out.write(s), writeErr: (s) => output.err.write(s) });
    program.addCommand(command);
  }
  return program;
}

/** Runs the command line and resolves with the exit code; never throws. */
export async function runCli(argv: string[], output: Output = processOutput()): Promise<number> {
  let code: number = ExitCode.PASSED;
  const program = buildProgram(output, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? ExitCode.PASSED : ExitCode.USAGE;
    }
    if (err instanceof CliError) {
      output.err.write(`${output.colors.red('error')}: ${err.message}\n`);
      return err.exitCode;
    }
    output.err.write(
      `${output.colors.red('error')}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return ExitCode.USAGE;
  }
}
