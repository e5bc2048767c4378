import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL, CHECKPOINT_POLICY_PLURAL } from '../api/constants.js';

/**
 * API paths of the objects the operator reads and writes, made in one place so a typo in a
 * group, version or plural cannot hide in one call site.
 */
export const apiPaths = {
  checkpoint: (ref: { namespace: string; name: string }) =>
    `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ref.namespace}/${CHECKPOINT_PLURAL}/${ref.name}`,
  checkpointStatus: (ref: { namespace: string; name: string }) => `${apiPaths.checkpoint(ref)}/status`,
  policy: (name: string) => `/apis/${API_GROUP}/${API_VERSION}/${CHECKPOINT_POLICY_PLURAL}/${name}`,
  pod: (ref: { namespace: string; name: string }) => `/api/v1/namespaces/${ref.namespace}/pods/${ref.name}`,
  job: (ref: { namespace: string; name: string }) => `/apis/batch/v1/namespaces/${ref.namespace}/jobs/${ref.name}`,
  jobs: (namespace: string) => `/apis/batch/v1/namespaces/${namespace}/jobs`,
  secret: (ref: { namespace: string; name: string }) => `/api/v1/namespaces/${ref.namespace}/secrets/${ref.name}`,
  secrets: (namespace: string) => `/api/v1/namespaces/${namespace}/secrets`,
};
