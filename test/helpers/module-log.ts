// Which modules a process (and the processes it forks) loads: an environment whose
// NODE_OPTIONS registers a module resolve hook in every Node process started with it; the
// hook appends each resolved URL to `<prefix>.<pid>`, one file per process. It sees every
// `import` and `import()`, not what `require()` loads (pino-pretty, node-unix-socket).
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const HOOKS = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(d) { file = d.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}`;

const REGISTER = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: { file: process.env.RS_MODULE_LOG + '.' + process.pid } });`;

/** The environment (this process's, plus the hook) for a child whose modules are logged under `prefix`. */
export function moduleLogEnv(prefix: string): NodeJS.ProcessEnv {
  const opt = `--import=data:text/javascript,${encodeURIComponent(REGISTER)}`;
  return { ...process.env, RS_MODULE_LOG: prefix, NODE_OPTIONS: [process.env.NODE_OPTIONS, opt].filter(Boolean).join(' ') };
}

/** The modules each process logged under `prefix`, by pid. */
export function loadedModules(prefix: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const name = basename(prefix);
  for (const f of readdirSync(dirname(prefix))) {
    if (!f.startsWith(`${name}.`)) continue;
    out.set(Number(f.slice(name.length + 1)), readFileSync(join(dirname(prefix), f), 'utf8').split('\n').filter(Boolean));
  }
  return out;
}
