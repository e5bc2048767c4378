import { join } from 'node:path';

/**
 * THE rule mapping a container image to a program on this machine (there is no container engine):
 *
 * - an image whose repository ends in `checkpoint-operator` (any registry, tag or digest) is this
 *   project's own build (the cluster's image directory, what `npm run build` puts in dist/):
 *   `/manager` runs <image>/manager.js and `/jobs/<action>` runs <image>/jobs/<action>.js, with
 *   the Node.js the project carries;
 * - any other image runs the container's command and args as host programs (as with busybox:
 *   `sleep 3600`, `sh -c '…'`);
 * - anything else cannot start, like an image that cannot be pulled.
 */
export type ImageProgram = { ok: true; argv: string[] } | { ok: false; reason: 'ErrImagePull'; message: string };

const OPERATOR_REPOSITORY = /(^|\/)checkpoint-operator(:[^/@]+)?(@sha256:[a-f0-9]{64})?$/;

export function programFor(image: string, command: string[] | undefined, args: string[] | undefined, imageDir: string, nodeBinary: string): ImageProgram {
  const argv = [...(command ?? []), ...(args ?? [])];
  if (OPERATOR_REPOSITORY.test(image)) {
    const [entry, ...rest] = argv.length > 0 ? argv : ['/manager'];
    if (entry === '/manager') return { ok: true, argv: [nodeBinary, join(imageDir, 'manager.js'), ...rest] };
    const job = /^\/jobs\/([a-z-]+)$/.exec(entry ?? '');
    if (job) return { ok: true, argv: [nodeBinary, join(imageDir, `jobs/${job[1]}.js`), ...rest] };
    return { ok: false, reason: 'ErrImagePull', message: `image ${image} has no entrypoint ${entry}` };
  }
  if (argv.length === 0) {
    return { ok: false, reason: 'ErrImagePull', message: `image ${image} cannot run here: give the container a command (no container engine on simulated nodes)` };
  }
  return { ok: true, argv };
}
