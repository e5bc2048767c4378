import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFieldReference } from './field-reference.js';
import { replaceMarkedSection } from './marked-section.js';
import { renderRuntimeSupport } from '../dispatcher/runtime-support.js';

/** Rewrites README.md's field reference (from the zod schemas) and runtime table (from runtime-support.ts): part of `npm run generate`. */
const readme = join(import.meta.dirname, '../../README.md');
const withFields = replaceMarkedSection(await readFile(readme, 'utf8'), 'field-reference', renderFieldReference());
await writeFile(readme, replaceMarkedSection(withFields, 'runtime-support', renderRuntimeSupport()));
console.log('wrote the field reference and the runtime support table to README.md');
