// Writes schemas/*.json from the TypeBox schemas (src/schemas.ts); schemas.test.ts fails when the
// published files and the generated ones differ, so run this after changing either schema.
import { writeFileSync } from 'node:fs';
import { publishedSchemas, schemaText } from '../src/schemas.js';

for (const [file, schema] of Object.entries(publishedSchemas())) {
  writeFileSync(new URL(`../schemas/${file}`, import.meta.url), schemaText(schema));
}
