/**
 * V8 flags restreamer runs with. A young generation of 4 MB per semi-space (V8's default
 * here is 16 MB) keeps the proxy's resident memory about 7-10 MB lower per process for the
 * same CPU (measured in docs/benchmarks.md): what the hot path allocates is short-lived.
 * Flags cannot be changed once a process runs, so the launchers pass them: bin/restreamer.js
 * (shebang), `npm start`, the primary for its workers, and the benchmark.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
