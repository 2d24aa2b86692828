// Writes schemas/results.schema.json from the zod schema in src/report/harnessResults.ts
// (`npm run schema:results`); test/unit/harnessResults.test.ts fails when the published file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resultsJsonSchema } from '../src/report/harnessResults.ts';

const file = fileURLToPath(new URL('../schemas/results.schema.json', import.meta.url));
writeFileSync(file, JSON.stringify(resultsJsonSchema(), null, 2) + '\n');
process.stdout.write(`wrote ${file}\n`);
