/** Capture files: pcapng and classic pcap writers. (Reading them is lib/backends/file's job.) */
export { PcapngWriter, type PcapngWriterOptions } from './pcapng-writer';
export { PcapWriter, type PcapWriterOptions } from './pcap-writer';
export { RotatingWriter, type RotatingWriterOptions } from './rotating-writer';
export type { UpperPdu } from './upper-pdu';
export type { CaptureFileWriter, DropCounts, InterfaceSource, Select } from './writer';
export type { OutputOptions } from './output';
