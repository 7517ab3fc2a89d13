import { spawn } from 'node:child_process';
import path from 'node:path';

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts a real embedded PostgreSQL server in its own process (see embedded-pg-process.js). */
export function startEmbeddedServer(dir: string, port: number): Promise<EmbeddedServer> {
  const proc = spawn(process.execPath, [path.join(__dirname, 'embedded-pg-process.js'), dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    proc.stderr.on('data', (c) => (output += c));
    proc.stdout.on('data', (c) => {
      output += c;
      const line = output.split('\n').find((l) => l.startsWith('{"url"'));
      if (line) {
        resolve({
          url: (JSON.parse(line) as { url: string }).url,
          stop: () => {
            proc.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    exited.then(() => reject(new Error(`the embedded PostgreSQL process exited before it was ready:\n${output}`)));
  });
}
