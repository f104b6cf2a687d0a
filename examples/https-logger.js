'use strict';
// An HTTPS request logger: the request line and Host of every HTTP/1 request written
// through OpenSSL, as plaintext from uprobes (no keys, no proxy), and no packets at all
// (packets: false: nothing is hooked or queued for them). With -- COMMAND, only that
// command's requests (and its children's), confined to its cgroup in the kernel.
//
//   sudo node examples/https-logger.js                 every process, until ^C
//   sudo node examples/https-logger.js -- curl https://example.org/
const { captureCommand, openCapturer } = require('..');

const REQUEST = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;

async function main() {
  const command = process.argv.slice(process.argv.indexOf('--') + 1);
  const options = { tls: 'required', packets: false };
  const run = process.argv.includes('--') ? await captureCommand(command[0], command.slice(1), options) : null;
  const cap = run ? run.capturer : await openCapturer(options);
  if (!run) process.once('SIGINT', () => cap.close());
  for await (const ev of cap.tls) {
    const text = ev.direction === 'write' ? ev.data.toString('latin1') : '';
    const request = REQUEST.exec(text);
    if (!request) continue;
    const host = /\r\nhost: *([^\r]*)/i.exec(text)?.[1] ?? '?';
    console.log(`${new Date(ev.timestamp).toISOString()} ${ev.comm}[${ev.pid}] ${request[1]} https://${host}${request[2]}`);
  }
  if (run) process.exitCode = (await run.exited).code ?? 1;
}

main().catch((err) => {
  console.error(`https-logger: ${err.code ?? 'error'}: ${err.message}`);
  process.exitCode = 1;
});
