import { storeArchive } from '../../../src/actions/checkpoint/store-archive.js';
import { FilesystemBackend } from '../../../src/storage/filesystem.js';
import { reportAndExit } from './worker-args.js';

/**
 * The checkpoint Job's data path for the filesystem backends (local and pvc), with its default
 * settings: one read of the kubelet's archive, metadata read from the tar on the way, SHA-256 of
 * every byte, written 0600 under a hidden temporary name, fsynced, renamed into place, the
 * directory fsynced, then the stored size checked.
 */
const a = JSON.parse(process.argv[2]!) as { file: string; root: string; key: string };
// What backendFor builds for pvc, over the bench's directory instead of /archive.
const backend = new FilesystemBackend(a.root, 'pvc://bench');
const started = performance.now();
const { stored } = await storeArchive(a.file, backend, a.key);
reportAndExit(performance.now() - started, stored.sizeBytes, { sha256: stored.sha256 });
