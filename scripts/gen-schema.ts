import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../src/config/jsonschema.js';

// npm run schema: regenerate restreamer.schema.json (committed; a unit test checks it is current).
const target = fileURLToPath(new URL('../restreamer.schema.json', import.meta.url));
writeFileSync(target, configJsonSchemaText());
console.log(`wrote ${target}`);
