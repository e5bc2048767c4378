import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createLogger } from '../observability/logger.js';
import { describeWatchScope, parseConfig } from './config.js';

/** The in-pod path where Kubernetes mounts the ServiceAccount's namespace. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const result = parseConfig({
  env: process.env,
  argv: process.argv.slice(2),
  hostname: hostname(),
  serviceAccountNamespace: readServiceAccountNamespace(),
});
if (!result.ok) {
  // One line a person can act on, on stderr and as the pod's termination message.
  createLogger('dispatcher', 'error').error(result.message);
  process.stderr.write(`${result.message}\n`);
  process.exit(2);
}
const config = result.config;
const log = createLogger('dispatcher', config.logLevel);
log.info({ watchNamespaces: config.watchNamespaces, operatorNamespace: config.operatorNamespace, podName: config.podName },
  `${config.operatorName} starting: ${describeWatchScope(config)}`);
