import { spawn } from 'node:child_process';
import type { Server } from 'node:net';

/*
 * A listening socket that lives in a node's network namespace but is served by this process.
 * A process cannot switch namespaces for one socket, so a short-lived child started with
 * `ip netns exec` opens it and hands it over the IPC channel; connections accepted on it arrive
 * at the node's address, while the handling (and every API call it makes, on loopback) stays here.
 */
const CHILD = `
const net = require('node:net');
const s = net.createServer();
s.on('error', (e) => { process.send({ error: e.message }); process.exit(1); });
s.listen(Number(process.argv[2]), process.argv[1], () => process.send('listening', s, () => { s.close(); process.disconnect(); }));
`;

export function listenInNetns(netns: string, ip: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', CHILD, ip, String(port)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no socket from netns ${netns} within 10s`));
    }, 10_000);
    child.once('message', (msg: unknown, handle: unknown) => {
      clearTimeout(timer);
      if (msg === 'listening' && handle) resolve(handle as Server);
      else reject(new Error(`could not listen on ${ip}:${port} in ${netns}: ${JSON.stringify(msg)}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
