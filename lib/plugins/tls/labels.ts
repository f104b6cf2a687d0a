/**
 * Key log labels in a file's read-only data. A uprobe cannot read a page its process
 * never touched; a secret whose label it could not read comes with the label's address
 * and the probe's, and is named from here.
 */
import type { ElfFile } from './elf';

/** The labels OpenSSL and Go's crypto/tls give their secrets (NSS key log format). */
const LABELS = [
  'CLIENT_RANDOM',
  'CLIENT_EARLY_TRAFFIC_SECRET',
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'SERVER_TRAFFIC_SECRET_0',
  'EARLY_EXPORTER_SECRET',
  'EXPORTER_SECRET',
];

/** The link-time address of every occurrence of each label in `elf`'s .rodata. */
export function labelAddresses(elf: ElfFile): Map<number, string> {
  const out = new Map<number, string>();
  const section = elf.sections.get('.rodata');
  const data = elf.section('.rodata');
  if (!section || !data) return out;
  // No label begins another, so an address names one label: EXPORTER_SECRET inside
  // EARLY_EXPORTER_SECRET (a C compiler shares tails) is EXPORTER_SECRET there.
  for (const label of LABELS) {
    for (let at = data.indexOf(label); at >= 0; at = data.indexOf(label, at + 1)) out.set(section.addr + at, label);
  }
  return out;
}
