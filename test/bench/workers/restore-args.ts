/** What both restore workers are handed: one archive in S3, and a fresh repository to copy it into. */
export interface RestoreWorkerArgs {
  s3: { endpoint: string; bucket: string; key: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** http://127.0.0.1:<port> */
  registryUrl: string;
  /** `127.0.0.1:<port>/path`, as a restore Job is given it. */
  repository: string;
  archive: { sizeBytes: number; sha256: string; createdAt: string };
  /** A curl config file holding the S3 credentials, so they stay off the reference's command line. */
  curlConfig: string;
}

export function restoreArgs(): RestoreWorkerArgs {
  return JSON.parse(process.argv[2]!);
}
