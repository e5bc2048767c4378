import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { AccessReviews, Authentication, Authorization, Identity } from './metrics-access.js';

/** TokenReview and SubjectAccessReview against the API server (RBAC: create on both, cluster-wide). */
export function kubernetesAccessReviews(kubeConfig: KubeConfig): AccessReviews {
  const authn = kubeConfig.makeApiClient(AuthenticationV1Api);
  const authz = kubeConfig.makeApiClient(AuthorizationV1Api);
  return {
    async authenticate(token: string): Promise<Authentication> {
      const review = await authn.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      const s = review.status;
      if (!s?.authenticated || !s.user?.username)
        return { authenticated: false, reason: s?.error || 'unknown or expired token' };
      return {
        authenticated: true,
        user: { username: s.user.username, uid: s.user.uid, groups: s.user.groups, extra: s.user.extra },
      };
    },
    async authorize(user: Identity, path: string): Promise<Authorization> {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            nonResourceAttributes: { path, verb: 'get' },
          },
        },
      });
      return review.status?.allowed ? { allowed: true } : { allowed: false, reason: review.status?.reason ?? '' };
    },
  };
}
