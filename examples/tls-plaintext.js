'use strict';
// The plaintext of a Node https call, read from OpenSSL inside the node binary by
// uprobes (no keys, no proxy). Serves https on 127.0.0.1 with a throwaway certificate
// (made with the openssl command), runs a client in a child process, and prints every
// SSL_read/SSL_write call of that client. Needs the eBPF backend and CAP_SYS_ADMIN.
//
//   sudo node examples/tls-plaintext.js [path]
const { execFileSync, execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');

const CLIENT = `
const https = require('node:https');
https.get({ host: '127.0.0.1', port: Number(process.argv[1]), path: process.argv[2], rejectUnauthorized: false }, (res) => {
  res.resume();
  res.on('end', () => console.log('client: HTTP ' + res.statusCode));
});`;

async function main() {
  const requestPath = process.argv[2] ?? '/hello';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-tls-'));
  try {
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
      { stdio: 'ignore' },
    );
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) =>
      res.end(`you asked for ${req.url}\n`),
    );
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;

    // tls: 'required' fails here, with the reason, where TLS capture cannot run. The
    // plugin sees every process's OpenSSL calls except this one's (the server's):
    // only the client's are printed.
    const cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${port}`, tls: 'required' });
    let clientPid;
    const printing = (async () => {
      for await (const ev of cap.tls) {
        if (ev.pid !== clientPid) continue;
        console.log(`${ev.direction.padEnd(5)} pid ${ev.pid} (${ev.comm}) via ${path.basename(ev.library)}, ${ev.data.length} bytes:`);
        console.log(`  ${JSON.stringify(ev.data.toString('latin1').slice(0, 200))}`);
      }
    })();

    const child = execFile(process.execPath, ['-e', CLIENT, String(port), requestPath], (err, stdout) => {
      if (err) console.error(err.message);
      process.stdout.write(stdout);
    });
    clientPid = child.pid;
    await new Promise((resolve) => child.on('close', resolve));
    console.log(`client pid was ${child.pid}`);
    await cap.close();
    await printing;
    server.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});
