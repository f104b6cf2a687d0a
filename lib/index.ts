export { openCapturer } from './open';
export { probe, type ProbeReport, type FeatureResult, type Capability } from './probe';
export {
  selectBackend,
  readiness,
  attachModes,
  type AttachMode,
  type BackendName,
  type BackendOption,
  type Selection,
  type Readiness,
  type Attempt,
} from './selection';
export { Capturer, type CaptureStats, type CaptureSelection, type LiveSelection, type ReplaySelection } from './capturer';
export type { SourceName, InterfaceEvent } from './backend';
export { Batch, Packet, type Direction } from './batch';
export { describePacket } from './describe';
export { HeaderView, LINKTYPE, ETHERTYPE, IPPROTO, TCP } from './headers';
export type { Attribution, Container, PacketProcess } from './attribution/types';
export type { CaptureOptions } from './options';
export type { NamespaceSpec } from './netns';
export { captureCommand, type CommandCapture, type CommandCaptureOptions, type CommandExit } from './command';
export {
  PcapngWriter,
  PcapWriter,
  RotatingWriter,
  type RotatingWriterOptions,
  type PcapngWriterOptions,
  type PcapWriterOptions,
  type CaptureFileWriter,
  type UpperPdu,
  type DropCounts,
  type InterfaceSource,
  type Select,
  type OutputOptions,
} from './pcapng';
export type { TlsOption, TlsOptions, TlsState } from './tls';
export {
  tlsPlugin,
  TlsPlugin,
  MAX_CALL_BYTES,
  keyLogLine,
  type TlsEvent,
  type TlsSecret,
  type TlsStats,
  type Connection,
  type Endpoint,
} from './plugins/tls';
export type { Plugin, PluginHost } from './backend';
export {
  TapwireError,
  NoBackendError,
  BackendUnavailableError,
  PermissionError,
  BadFilterError,
  NoSuchInterfaceError,
  NoSuchNamespaceError,
  NoSuchCgroupError,
  InterfaceGoneError,
  InvalidOptionError,
  TlsUnavailableError,
  AttributionUnavailableError,
  PluginUnsupportedError,
  ClosedError,
  BusyError,
  ReleasedError,
  FileError,
  ProgramRejectedError,
  MissingDependencyError,
  type ErrorCode,
} from './errors';
