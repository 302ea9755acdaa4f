import { z } from 'zod';
import { ConfigSchema } from './schema.js';

// JSON Schema (draft 2020-12) for editors, derived from the zod schema so the two
// cannot disagree. scripts/gen-schema.ts writes it to restreamer.schema.json.

const COMMENT = { description: 'comment: keys named "" are ignored and may repeat' };

type Node = Record<string, unknown>;

/** Let "" comment keys through every object, and drop zod-only noise editors do not use. */
function adjust(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(adjust);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as Node;
  if (n.type === 'object') n.patternProperties = { '^$': COMMENT, ...(n.patternProperties as Node | undefined) };
  if (n.format === 'starts_with') delete n.format; // not a JSON Schema format; the pattern says it
  if (n.maximum === Number.MAX_SAFE_INTEGER) delete n.maximum;
  if (n.minimum === Number.MIN_SAFE_INTEGER) delete n.minimum;
  for (const v of Object.values(n)) adjust(v);
}

export function configJsonSchema(): Node {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Node;
  adjust(schema);
  const { $schema, ...rest } = schema;
  return { $schema, title: 'restreamer.json', ...rest };
}

/** The exact text of restreamer.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
