#!/usr/bin/env -S node --max-semi-space-size=4
// Thin launcher so `npm install -g` / `npx restreamer` run the compiled CLI with the V8
// flags of src/node-flags.ts (keep the shebang in step with it).
import '../dist/src/cli.js';
