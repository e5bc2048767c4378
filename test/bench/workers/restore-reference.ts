import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { restoreArgs } from './restore-args.js';
import { reportAndExit } from './worker-args.js';

/**
 * The reference: curl GETs the object (SigV4-signed by curl itself) and its output is piped into
 * a second curl that PUTs it as a monolithic blob upload of the object's known length (not
 * chunked, so what curl reports sent is the body alone), the registry checking the digest on
 * commit. Two stock C clients and a kernel pipe are the plainest way to move the same bytes from
 * the same S3 server into the same registry: no hashing or parsing on the client, no JavaScript
 * on the data path, and nothing pushed but the layer (no config, manifest or index).
 */
const run = promisify(execFile);
const a = restoreArgs();
const uploads = `${a.registryUrl}/v2/${a.repository.slice(a.repository.indexOf('/') + 1)}/blobs/uploads/`;
const source = `${a.s3.endpoint}/${a.s3.bucket}/${a.s3.key}`;
const started = performance.now();
const { stdout: location } = await run('curl', [
  '-sS',
  '--fail',
  '-X',
  'POST',
  '-o',
  '/dev/null',
  '-w',
  '%header{location}',
  uploads,
]);
const target = new URL(location.trim(), a.registryUrl);
target.searchParams.set('digest', `sha256:${a.archive.sha256}`);
const { stdout: uploaded } = await run('bash', [
  '-c',
  'set -o pipefail; curl -sS --fail --aws-sigv4 aws:amz:us-east-1:s3 -K "$1" "$2" | curl -sS --fail -T - -H "transfer-encoding:" -H "content-length: $4" -H "content-type: application/octet-stream" -o /dev/null -w "%{size_upload}" "$3"',
  'copy',
  a.curlConfig,
  source,
  target.href,
  String(a.archive.sizeBytes),
]);
const ms = performance.now() - started;
reportAndExit(ms, Number(uploaded.trim()));
