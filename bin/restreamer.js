#!/usr/bin/env node
// Thin launcher so `npm install -g` / `npx restreamer` run the compiled CLI.
import '../dist/src/cli.js';
