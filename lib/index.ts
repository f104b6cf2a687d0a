export { openCapturer } from './open';
export { probe, type ProbeReport, type FeatureResult, type Capability } from './probe';
export { selectBackend, readiness, attachModes, type AttachMode, type BackendName, type BackendOption, type Selection, type Readiness } from './selection';
export { Capturer, type CaptureStats, type CaptureSelection } from './capturer';
export { Batch, Packet, type Direction } from './batch';
export type { CaptureOptions } from './options';
export type { TlsOption, TlsOptions, TlsState } from './tls';
export {
  TapwireError,
  NoBackendError,
  BackendUnavailableError,
  PermissionError,
  BadFilterError,
  NoSuchInterfaceError,
  InvalidOptionError,
  TlsUnavailableError,
  ClosedError,
  BusyError,
  type ErrorCode,
} from './errors';
