import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFieldReference } from './field-reference.js';
import { replaceMarkedSection } from './marked-section.js';

/** Rewrites README.md's field reference from the zod schemas: part of `npm run generate`. */
const readme = join(import.meta.dirname, '../../README.md');
await writeFile(readme, replaceMarkedSection(await readFile(readme, 'utf8'), 'field-reference', renderFieldReference()));
console.log('wrote the field reference to README.md');
