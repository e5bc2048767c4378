/**
 * Where a restore or cleanup Job finds what the registry needs: the push credentials (`.dockerconfigjson`)
 * and the CA bundle that signs its certificate (`ca.crt`), both from its per-Job Secret.
 */
export const REGISTRY_SECRET_DIR = '/var/run/secrets/checkpoint-operator/registry';
export const REGISTRY_SECRET_KEY = '.dockerconfigjson';
export const REGISTRY_CA_FILE = 'ca.crt';
/** The per-Job Secret also carries an S3 CA bundle under ca.crt: the registry's has its own key. */
export const REGISTRY_CA_SECRET_KEY = 'registry-ca.crt';
