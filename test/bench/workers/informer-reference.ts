import {
  BatchV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../../src/api/constants.js';
import { LABELS, MANAGED_BY } from '../../../src/kube/names.js';

/**
 * The memory reference: a bare process holding client-node informers (ListWatch) over the same
 * objects the dispatcher caches: every Checkpoint in the cluster, and the Jobs of the operator's
 * namespace under the dispatcher's label selector. Nothing else: no reconcilers, queue, metrics,
 * health server, logger or leader election. Prints one line once both have listed, with what
 * they hold, then stays up until killed (its RSS is read from outside, as the dispatcher's is).
 */
const a = JSON.parse(process.argv[2]!) as { kubeconfig: string; jobNamespace: string };
const kc = new KubeConfig();
kc.loadFromFile(a.kubeconfig);
const custom = kc.makeApiClient(CustomObjectsApi);
const batch = kc.makeApiClient(BatchV1Api);
const selector = `${LABELS.managedBy}=${MANAGED_BY}`;
const checkpoints = new ListWatch<KubernetesObject>(
  `/apis/${API_GROUP}/${API_VERSION}/${CHECKPOINT_PLURAL}`,
  new Watch(kc),
  () =>
    custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL }) as Promise<
      KubernetesListObject<KubernetesObject>
    >,
  false,
);
const jobs = new ListWatch<KubernetesObject>(
  `/apis/batch/v1/namespaces/${a.jobNamespace}/jobs`,
  new Watch(kc),
  () => batch.listNamespacedJob({ namespace: a.jobNamespace, labelSelector: selector }),
  false,
  selector,
);
await Promise.all([checkpoints.start(), jobs.start()]);
process.stdout.write(`${JSON.stringify({ checkpoints: checkpoints.list().length, jobs: jobs.list().length })}\n`);
setInterval(() => undefined, 1 << 30);
