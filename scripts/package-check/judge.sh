# shellcheck shell=bash
# Sourced by check.sh and, inside the arm64 guest, by arm64-guest.sh (after
# scripts/lib/report.sh): each judges one result and prints its PASS or FAIL line.
# Only `node` is needed, so they run in the slim root's host and in the guest alike.

# probe_ok LABEL FILE [FEATURE...]: whether every feature in `tapwire probe --json`'s
# output is ok, except the FEATUREs named (which this kernel may lack: said in the line).
probe_ok() {
  node -e '
    const [label, file, ...absent] = process.argv.slice(1);
    const r = require(file);
    const not = Object.entries(r.features).filter(([, f]) => !f.ok);
    const bad = not.filter(([n]) => !absent.includes(n)).map(([n, f]) => `${n} (${f.reason})`);
    if (bad.length) { console.log(`FAIL: ${label}tapwire probe: not ok: ${bad.join("; ")}`); process.exit(1); }
    const lacking = not.length ? `; lacks ${not.map(([n]) => n).join(" ")} as this kernel should` : "";
    console.log(`PASS: ${label}tapwire probe: ${Object.keys(r.features).length - not.length} features ok${lacking}; auto chooses ${r.auto.backend}; TLS ${r.tls.active ? "on" : "off"}`);
  ' "$@" || failures=$((failures + 1))
}

# capture_ok LABEL COUNT JSON: whether loopback.js captured each of its COUNT datagrams
# once, losing none (twice, once each way, and each attributed to itself, from the cgroup).
capture_ok() {
  node -e '
    const [label, count, r] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];
    const d = r.drops.kernel + r.drops.ring + r.drops.userspace;
    const cgroup = r.own !== undefined;
    const out = cgroup ? count : 0;
    const ok = r.received === count && r.in === count && r.out === out && r.packets === count + out && d === 0 && (!cgroup || r.own === 2 * count);
    const where = cgroup ? "from the root cgroup, with attribution" : "on lo";
    const owned = cgroup ? `, ${r.own} attributed to the sending process` : "";
    console.log(`${ok ? "PASS" : "FAIL"}: ${label}live capture ${where} with ${r.backend}${r.attach ? ` (${r.attach})` : ""}, filtered to its port: sent ${count}, received ${r.received}, captured ${r.in} in + ${r.out} out${owned}, ${d} dropped`);
    process.exit(ok ? 0 : 1);
  ' "$@" || failures=$((failures + 1))
}

# tls_ok LABEL LIBRARY KEYS JSON: whether tls.js read its client's request and answer
# through LIBRARY (the file the client's TLS is in). KEYS: 'secrets' (the client's
# secrets name its ClientHello) or 'why' (none are read, and the file says why).
tls_ok() {
  node -e '
    const [label, library, keys, r] = [process.argv[1], process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
    const secrets = keys === "secrets" ? r.secrets.count >= 4 && r.secrets.inHello : r.secrets.count === 0 && r.noKeys.length === 1;
    const ok = r.hooked && r.client.exit === 0 && r.client.answered && r.wrote && r.read && r.packets > 0 &&
      r.libraries.length === 1 && r.libraries[0] === library && secrets;
    const said = keys === "secrets"
      ? `${r.secrets.count} secrets (${r.secrets.labels.join(" ")}), ${r.secrets.inHello ? "naming its ClientHello" : "NOT naming its ClientHello"}`
      : `${r.secrets.count} secrets, because: ${r.noKeys.join("; ") || "NOT SAID"}`;
    const openssl = r.client.fetcher === "node" ? `OpenSSL ${r.openssl} in the node binary` : "the system libssl";
    console.log(`${ok ? "PASS" : "FAIL"}: ${label}TLS plaintext of the ${r.client.fetcher} https client (${openssl}): ` +
      `request line written ${r.wrote ? "seen" : "NOT seen"}, response read ${r.read ? "seen" : "NOT seen"}, from ${r.libraries.join(", ") || "no file"}; ` +
      `${said}; ${r.packets} packets on the port (${r.backend}${r.attach ? `, ${r.attach}` : ""})`);
    process.exit(ok ? 0 : 1);
  ' "$@" || failures=$((failures + 1))
}
