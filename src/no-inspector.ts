// Node opens its inspector on SIGUSR1 when no listener is installed: a debug port on
// 127.0.0.1:9229 that runs any code it is sent. No signal may do that here, and SIGUSR1
// is the original's log-rotation signal. This module is the CLI's first import, so the
// listener is in place before anything else runs; cli.ts adds the log reopening. The
// listener is never removed (with none, Node's default would return).
process.on('SIGUSR1', () => {});
