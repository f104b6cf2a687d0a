// ES module entry: the same single instance as the CommonJS one (no dual-package state).
import tapwire from '../dist/index.js';

export const {
  openCapturer,
  probe,
  selectBackend,
  readiness,
  attachModes,
  Capturer,
  Batch,
  Packet,
  TapwireError,
  NoBackendError,
  BackendUnavailableError,
  PermissionError,
  BadFilterError,
  NoSuchInterfaceError,
  InterfaceGoneError,
  InvalidOptionError,
  TlsUnavailableError,
  PluginUnsupportedError,
  tlsPlugin,
  TlsPlugin,
  MAX_CALL_BYTES,
  ClosedError,
  BusyError,
  FileError,
  ProgramRejectedError,
  PcapngWriter,
  PcapWriter,
  RotatingWriter,
} = tapwire;
export default tapwire;
