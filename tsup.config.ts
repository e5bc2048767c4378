import { existsSync, readdirSync, rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// Every action with a program (src/actions/<action>/main.ts) is a Job the image can run.
const jobs = readdirSync('src/actions').filter((a) => existsSync(`src/actions/${a}/main.ts`));

const common: Options = {
  format: ['esm'],
  platform: 'node',
  target: 'node22',
  splitting: true,
  sourcemap: true,
  // Bundle dependencies too: the runtime image then needs no node_modules.
  noExternal: [/.*/],
  banner: {
    // Some dependencies are CommonJS and call require(); give the ESM bundle one.
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
};

/**
 * One build for the dispatcher and one per Job program, so each process loads only its own code.
 * A single build with code splitting would share chunks between programs, and a shared chunk
 * holds everything any of them uses from a module: a Job would then load (and evaluate) most of
 * zod and whatever else the dispatcher needs. Splitting stays on within a build, so code a
 * program imports dynamically (the S3 SDK, prom-client) is only loaded when used.
 *
 * Each Job's chunks go under dist/jobs/<job>/: every dist/jobs/*.js is an entrypoint of the image.
 */
export default defineConfig((cli) => {
  const outDir = cli.outDir ?? 'dist';
  // Cleaned here, once: the builds below run concurrently into the same directory, so tsup's
  // per-build `clean` would delete the others' output.
  rmSync(outDir, { recursive: true, force: true });
  return [
    { ...common, name: 'manager', entry: { manager: 'src/dispatcher/main.ts' }, outDir },
    ...jobs.map((job): Options => ({
      ...common,
      name: `jobs/${job}`,
      entry: { [`jobs/${job}`]: `src/actions/${job}/main.ts` },
      outDir,
      esbuildOptions(options) {
        options.chunkNames = `jobs/${job}/[name]-[hash]`;
      },
    })),
  ];
});
