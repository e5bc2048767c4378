import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFieldReference } from './field-reference.js';
import { replaceMarkedSection } from './marked-section.js';
import { renderRuntimeSupport } from '../dispatcher/runtime-support.js';

/**
 * Rewrites the generated parts of the docs: part of `npm run generate`. The field reference
 * (docs/reference.md) comes from the zod schemas, the runtime table (docs/restore.md) from
 * runtime-support.ts; unit tests fail when either page is stale.
 */
const docs = join(import.meta.dirname, '../../docs');
const rewrite = async (file: string, section: string, content: string) => {
  const path = join(docs, file);
  await writeFile(path, replaceMarkedSection(await readFile(path, 'utf8'), section, content));
  console.log(`wrote the ${section} section of docs/${file}`);
};
await rewrite('reference.md', 'field-reference', renderFieldReference());
await rewrite('restore.md', 'runtime-support', renderRuntimeSupport());
