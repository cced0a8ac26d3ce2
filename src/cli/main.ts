import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PACKAGE_ROOT } from '../paths.js';
import { SEVERITIES } from '../config/schema.js';
import { escapeLines } from '../text/escape.js';
import { isHolterError } from '../errors.js';
import { INCIDENT_DAYS, LEARNING_DAYS, MIN_SCORED_DAYS } from '../sim/options.js';
import { MAX_ALERTS_LIMIT, runAlerts } from './alerts.js';
import { runBaselineShow } from './baseline.js';
import { runDemo } from './demo.js';
import { runEval } from './eval.js';
import { runReplay } from './replay.js';
import { runRulesTest, runRulesValidate } from './rules.js';
import { exitWhenStuck, runStream } from './run.js';
import { runSetupElasticsearch } from './setup.js';

/** The demo's own alert store, which `holter alerts` reads by default. */
const DEMO_STORE = '.holter/demo/alerts.db';

/** Runs the `holter` command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (isHolterError(error)) {
      // Errors quote paths and values from input files, so each line is escaped for the terminal.
      process.stderr.write(`holter: ${escapeLines(error.describe(), { keepTab: true })}\n`);
      return 2;
    }
    // Commander has printed the usage error already. Help and --version end here too, with 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
}

function buildProgram(): Command {
  const program = new Command('holter')
    .description('Watches hospital security telemetry and raises explained alerts.')
    .version(packageVersion(), '-V, --version', 'print the Holter version')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors then exit with 2 like Holter's own errors, apart from 1, which reports findings.
    .exitOverride();

  program
    .command('demo')
    .description('Stream a simulated cardiology hospital (weeks of normal work, then incidents) through the pipeline.')
    .option('--days <n>', `days of simulated activity, at least ${MIN_SCORED_DAYS}`, parseScoredDays, 35)
    .option('--staff <n>', 'number of staff in the simulated hospital', parsePositiveInteger, 300)
    .option('--seed <n>', 'random seed; the same seed gives the same hospital', parsePositiveInteger, 42)
    .option('--store <file>', 'embedded alert store (SQLite); the default one starts empty on each run, a store you name keeps earlier alerts', DEMO_STORE)
    .option('-o, --out <file>', 'also append alerts as NDJSON to this file (- for standard output)')
    .option('--webhook <url>', 'POST alerts to this URL (signed when HOLTER_WEBHOOK_SECRET is set)')
    .addOption(new Option('--min-severity <level>', 'lowest severity printed').choices(SEVERITIES).default('low'))
    .option('-q, --quiet', 'print only the summary and scorecard, not each alert')
    .option('--log-level <level>', 'operational log level on standard error', 'warn')
    .option('--rules <path>', 'Sigma rule file or folder; repeat for more (replaces the shipped ones)', collect)
    .option('--detectors <path>', 'detector file or folder; repeat for more (replaces the shipped ones)', collect)
    .action(async (options, command: Command) => {
      process.exitCode = await runDemo({ ...options, freshStore: command.getOptionValueSource('store') === 'default' });
    });

  program
    .command('eval')
    .description('Score detection on labelled simulated hospitals: precision, recall and false alerts per thousand user-days.')
    .option('--days <n>', `days of simulated activity per hospital, at least ${MIN_SCORED_DAYS}`, parseScoredDays, 35)
    .option('--staff <n>', 'staff per simulated hospital', parsePositiveInteger, 300)
    .option('--seeds <list>', 'comma-separated random seeds, one hospital each', parseSeeds, [42])
    .option('-v, --verbose', 'print each hospital\'s scorecard')
    .option('--json', 'print the metrics as JSON')
    .option('--rules <path>', 'Sigma rule file or folder to score; repeat for more (replaces the shipped ones)', collect)
    .option('--detectors <path>', 'detector file or folder to score; repeat for more (replaces the shipped ones)', collect)
    .action(async (options) => {
      process.exitCode = await runEval(options);
    });

  program
    .command('replay')
    .description('Run files of telemetry, or a range of Kafka topics, through the pipeline and print the alerts they raise.')
    .argument('[file...]', 'input files (`-` reads standard input); none with --kafka')
    .option('-c, --config <file>', 'configuration file (YAML); defaults apply without one')
    .option('-f, --format <name>', 'decoder for every input (default: detected per record)')
    .option('-o, --out <file>', 'append alerts as NDJSON to this file (- for standard output; readable alerts then go to standard error)')
    .option('--dead-letter <file>', 'write records that cannot be decoded to this NDJSON file')
    .option('--rules <path>', 'Sigma rule file or folder; repeat for more (replaces the configured ones)', collect)
    .option('--detectors <path>', 'detector file or folder; repeat for more (replaces the configured ones)', collect)
    .option('--directory <file>', 'identity directory (CSV or JSON)')
    .option('--roster <file>', 'patient roster (CSV or JSON)')
    .option('--time-zone <zone>', 'facility time zone (IANA name, e.g. America/New_York)')
    .option('--store <file>', 'also keep alerts in this embedded store (SQLite)')
    .option('--webhook <url>', 'POST alerts to this URL (signed when HOLTER_WEBHOOK_SECRET is set)')
    .addOption(new Option('--min-severity <level>', 'lowest severity printed').choices(SEVERITIES))
    .option('-q, --quiet', 'do not print each alert')
    .option('--no-progress', 'do not show the progress bar')
    .option('--summary-json <file>', 'write the run summary as JSON to this file')
    .option('--preview', 'after the run, print what each rule raised: alerts per day, top entities, examples (backtesting)')
    .option('--state <file>', 'embedded state store (SQLite): resume detection state and input positions from it, and save them at the end')
    .option('--kafka', 'read the topics of kafka.topics in the configuration instead of files, in a consumer group of its own that commits nothing (backtesting)')
    .option('--kafka-topic <name>', 'read this Kafka topic instead of files; repeat for more', collect)
    .option('--from <when>', 'with --kafka: where to start in each partition: earliest (default), a time such as 2026-12-01T08:00:00Z, or an offset')
    .option('--to <when>', 'with --kafka: where to stop in each partition, excluded: latest (default: the end when the backtest starts), a time, or an offset')
    .option('--log-level <level>', 'operational log level on standard error')
    .action(async (files: string[], options) => {
      process.exitCode = await runReplay(files, options);
    });

  program
    .command('baseline')
    .description('Show what the behavioural detectors have learned.')
    .command('show')
    .description("Print a user's learned profile from the state store that `holter replay --state` keeps: hours of the week, typical volumes, known values, peer group.")
    .argument('<user>', 'user id as the detectors key it (holter.user.id, e.g. u-1042)')
    .option('-c, --config <file>', 'configuration file (YAML); its detectors are restored from the store')
    .option('--state <file>', 'embedded state store (default: state.path of the configuration)')
    .option('--time-zone <zone>', 'facility time zone the state was learned in, when the replay was given --time-zone')
    .option('--detectors <path>', 'detector file or folder the replay ran with; repeat for more (replaces the configured ones)', collect)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (user: string, options) => {
      process.exitCode = await runBaselineShow(user, options);
    });

  program
    .command('alerts')
    .description('List alerts kept in the embedded store, newest first.')
    .option('--store <file>', 'embedded alert store (SQLite)', DEMO_STORE)
    .option('--rule <id>', 'only alerts of this rule id')
    .option('--user <id>', 'only alerts about this user id')
    .option('--limit <n>', `maximum number of alerts, from 1 to ${MAX_ALERTS_LIMIT}`, parseAlertsLimit, 20)
    .option('--json', 'print the alert documents as NDJSON')
    .action(async (options) => {
      process.exitCode = await runAlerts(options);
    });

  program
    .command('run')
    .description('Consume the configured Kafka topics in a consumer group and deliver alerts to the sinks, until SIGTERM or SIGINT.')
    .option('-c, --config <file>', 'configuration file (YAML) with a kafka section')
    .option('--log-level <level>', 'operational log level on standard error (debug, info, warn, error, silent)')
    .action(async (options) => {
      process.exitCode = await runStream(options);
      exitWhenStuck(process.exitCode);
    });

  const rules = program.command('rules').description('Check Sigma rules and detectors before they go live.');
  rules
    .command('validate')
    .description('Report every problem in rule and detector files at once: load errors, then lint warnings.')
    .argument('[path...]', 'rule or detector files and folders (default: the configured rules and detectors paths)')
    .option('-c, --config <file>', 'configuration file (YAML) with the rule and detector paths, the mapping and placeholders')
    .option('--mapping <file>', 'Sigma field and log source mapping, replacing rules.mapping')
    .option('--strict', 'exit with status 1 on warnings too')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], options) => {
      process.exitCode = await runRulesValidate(paths, options);
    });
  rules
    .command('test')
    .description('Run the inline tests (holter.tests) of rules and detectors through the real engine.')
    .argument('[path...]', 'rule or detector files and folders (default: the configured rules and detectors paths)')
    .option('-c, --config <file>', 'configuration file (YAML) with the rule and detector paths, time zone and allowed lateness')
    .option('--mapping <file>', 'Sigma field and log source mapping, replacing rules.mapping')
    .option('--junit <file>', 'also write the results as JUnit XML to this file')
    .action(async (paths: string[], options) => {
      process.exitCode = await runRulesTest(paths, options);
    });

  const setup = program.command('setup').description('Install what an external system needs before `holter run` writes to it.');
  setup
    .command('elasticsearch')
    .description('Install the alert index template, the data stream and, when the cluster has ILM, its lifecycle policy. Safe to run again.')
    .option('-c, --config <file>', 'configuration file (YAML); sinks.elasticsearch is read from it')
    .option('--node <url>', 'Elasticsearch URL, replacing sinks.elasticsearch.nodes (default http://127.0.0.1:9200 when none is configured)')
    .action(async (options) => {
      process.exitCode = await runSetupElasticsearch(options);
    });

  return program;
}

/** Collects a repeatable option's values, so `--rules a --rules b` gives both. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

function parseSeeds(value: string): number[] {
  return value.split(',').map((part) => parsePositiveInteger(part.trim()));
}

/** Days of a simulation with incidents and traps: the learning weeks, then the incident week. */
function parseScoredDays(value: string): number {
  const days = parsePositiveInteger(value);
  if (days < MIN_SCORED_DAYS) {
    throw new InvalidArgumentError(`${days} days leave no room for ${LEARNING_DAYS} days of learned history before the ${INCIDENT_DAYS}-day incident week. Give at least ${MIN_SCORED_DAYS}.`);
  }
  return days;
}

function parseAlertsLimit(value: string): number {
  return parseIntegerUpTo(value, MAX_ALERTS_LIMIT);
}

/** Commander calls an option parser with the previous value as its second argument, so each bound gets its own parser. */
function parsePositiveInteger(value: string): number {
  return parseIntegerUpTo(value, Number.MAX_SAFE_INTEGER);
}

/**
 * Parses a whole number from 1 to `max`. Values above Number.MAX_SAFE_INTEGER are rejected
 * whatever `max` is, because a double rounds them and the number used would differ from the one typed.
 */
function parseIntegerUpTo(value: string, max: number): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > max) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a whole number from 1 to ${max}.`);
  }
  return parsed;
}
