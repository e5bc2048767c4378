/**
 * metav1.MicroTime as the API server parses it (six fractional digits). client-node serialises a
 * Date with three, which the API server rejects for Lease times; a string passes through as is.
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
