import { readdirSync } from 'node:fs';
import { defineConfig } from 'tsup';

// One bundle for the dispatcher and one per Job program, so each process loads only its own code.
const jobEntries = Object.fromEntries(
  readdirSync('jobs').filter((f) => f.endsWith('.ts')).map((f) => [`jobs/${f.replace(/\.ts$/, '')}`, `jobs/${f}`]),
);

export default defineConfig({
  entry: { manager: 'src/dispatcher/main.ts', ...jobEntries },
  format: ['esm'],
  platform: 'node',
  target: 'node22',
  outDir: 'dist',
  clean: true,
  splitting: true,
  sourcemap: true,
  // Bundle dependencies too: the runtime image then needs no node_modules.
  noExternal: [/.*/],
  banner: {
    // Some dependencies are CommonJS and call require(); give the ESM bundle one.
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
