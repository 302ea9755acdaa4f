import { parseArgs } from 'node:util';
import { parseListen } from './config/listen.js';
import { LOG_FORMATS, type LogFormat } from './log/logger.js';
import { RestreamerError, errorText } from './errors.js';

// The command line, read without side effects (src/cli.ts acts on the result): Node's
// parseArgs splits it into tokens; the rules that are ours (what counts as an unknown
// option, the messages, first problem wins in argument order) are applied here.

export const HELP = `Usage: restreamer [options] [CONFIG]

Live MPEG-TS proxy: pulls transport streams from upstreams and serves each to many
HTTP clients. CONFIG is a restreamer.json file (default: ./restreamer.json).

Options:
  --check              validate CONFIG (and that the log file can be opened), print a
                       summary and exit (0 valid, 2 invalid)
  --strict             refuse CONFIG (exit 2) when it has any warning: unknown keys,
                       skipped entries, ... (what the Go restreamer ignored is otherwise
                       accepted); also for --check and for reloads (SIGHUP)
  --demo               serve the built-in demo stream on http://localhost:8000/
  --listen ADDR        listen on ADDR instead of CONFIG's "listen" (":8080",
                       "127.0.0.1:8080", "[::1]:8080"); e.g. --demo --listen :8080
  --log-format FORMAT  auto (default: readable on a terminal, JSON lines otherwise),
                       json, pretty, or restreamer (the Go original's lines)
  --version            print the version and exit
  --help               print this help and exit

Docs: README.md and docs/configuration.md. Example configs: examples/.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  check: { type: 'boolean' },
  strict: { type: 'boolean' },
  demo: { type: 'boolean' },
  listen: { type: 'string' },
  'log-format': { type: 'string' },
} as const;

/** What to run: the options given, and the configuration file named (if any). */
export interface RunOptions {
  check: boolean;
  strict: boolean;
  demo: boolean;
  listen?: string;
  logFormat?: LogFormat;
  /** CONFIG as given (not resolved); undefined: none given. */
  config?: string;
}

/** What the command line asks for; `usage`: the help follows the message. */
export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; options: RunOptions }
  | { kind: 'error'; error: RestreamerError; usage: boolean };

type OptionToken = Extract<NonNullable<ReturnType<typeof parseArgs>['tokens']>[number], { kind: 'option' }>;

function usageError(message: string, usage: boolean): Command {
  return { kind: 'error', error: new RestreamerError('CLI_USAGE', message), usage };
}

/**
 * Read the arguments (without the node and script paths). Options with a value take it
 * as `--opt VALUE` or `--opt=VALUE`; anything else spelt with a leading `-` (a value given
 * to a flag, grouped short flags, `--`) is an unknown option, named as typed.
 */
export function parseCommandLine(argv: readonly string[]): Command {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const run: RunOptions = { check: false, strict: false, demo: false };
  const positional: string[] = [];
  for (const t of tokens) {
    const raw = argv[t.index] ?? '';
    if (t.kind === 'positional' && !raw.startsWith('-')) { positional.push(t.value); continue; }
    const stop = t.kind === 'option' && isKnown(t, raw) ? applyOption(run, t) : usageError(`unknown option ${raw}`, true);
    if (stop) return stop;
  }
  if (positional.length > 1) return usageError('only one CONFIG may be given', false);
  return { kind: 'run', options: { ...run, config: positional[0] } };
}

/** A declared option, typed exactly as declared (flags alone, values after a space or `=`). */
function isKnown(t: OptionToken, raw: string): boolean {
  if (!Object.hasOwn(OPTIONS, t.name)) return false;
  return OPTIONS[t.name as keyof typeof OPTIONS].type === 'string' ? raw === t.rawName || raw.startsWith(`${t.rawName}=`) : raw === t.rawName;
}

/** Record one option in `run`; returns the command when this option decides it (help, a bad value). */
function applyOption(run: RunOptions, t: OptionToken): Command | undefined {
  switch (t.name as keyof typeof OPTIONS) {
    case 'help': return { kind: 'help' };
    case 'version': return { kind: 'version' };
    case 'check': run.check = true; return undefined;
    case 'strict': run.strict = true; return undefined;
    case 'demo': run.demo = true; return undefined;
    case 'listen':
    case 'log-format':
      if (t.value === undefined) return usageError(`${t.rawName} needs a value`, true);
      return t.name === 'listen' ? setListen(run, t.value) : setLogFormat(run, t.value);
  }
}

function setListen(run: RunOptions, value: string): Command | undefined {
  try {
    parseListen(value);
  } catch (err) {
    // A listen address that cannot work is a configuration problem wherever it is given.
    return { kind: 'error', error: new RestreamerError('CONFIG_INVALID', `--listen: ${errorText(err)}`, { cause: err }), usage: false };
  }
  run.listen = value;
  return undefined;
}

function setLogFormat(run: RunOptions, value: string): Command | undefined {
  const format = LOG_FORMATS.find((f) => f === value);
  if (format === undefined) return usageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, not ${JSON.stringify(value)}`, false);
  run.logFormat = format;
  return undefined;
}
