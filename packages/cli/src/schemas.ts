import { ChecksFile } from './checks-file.js';
import { SummaryReport } from './report-schema.js';

/** The JSON Schemas the package publishes under schemas/, generated from the TypeBox schemas. */
export function publishedSchemas(): Record<string, object> {
  const json = (schema: object, id: string) => ({
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...JSON.parse(JSON.stringify(schema)),
    $id: id,
  });
  return {
    'checks.schema.json': json(ChecksFile, 'https://crucible.dev/schemas/checks.schema.json'),
    'summary.schema.json': json(SummaryReport, 'https://crucible.dev/schemas/summary.schema.json'),
  };
}

export const schemaText = (schema: object) => `${JSON.stringify(schema, null, 2)}\n`;
